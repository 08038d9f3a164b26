/**
 * Pool-core microbench, no database: lease → `fn` holding the connection
 * across one `await` (a query on an instant fake connection) → release.
 *
 * One process measures one subject (a pool) over a list of scenarios and
 * writes one JSON line per scenario. `bench/run.ts` starts one process per
 * subject and repetition, interleaved; run it by hand as
 *
 * ```sh
 * node_modules/.bin/deno run -A --v8-flags=--expose-gc bench/core_microbench.ts --subject=pgdbpool --scenarios=seq:10,cont:64/10
 * node_modules/.bin/bun bench/core_microbench.ts --subject=reference --scenarios=heap-waiters:10000
 * ```
 *
 * Scenarios:
 * - `seq:S`: pool of S connections (all opened first), one caller in a loop.
 * - `cont:T/S`: pool of S (all opened), T callers in a closed loop; T − S of
 *   them are always queued (so `cont:1010/10` keeps 1,000 waiters queued).
 * - `heap-waiters:W`: pool of 10, all leased; bytes of heap per pending
 *   caller for W more callers (the whole pending call, as a user makes it).
 * - `heap-acquire:W`: the same with the bare acquire call (pgdbpool:
 *   `pool.lease`), so the figure is the pool's own cost per waiter.
 * - `heap-idle:S`: bytes of heap per idle connection in a pool of S (the fake
 *   connection objects themselves are allocated before the baseline).
 * - `paired-seq:S`, `paired-cont:T/S`: the subject and the reference pool in
 *   this one process, alternating 10 ms slices; the median of per-slice
 *   ratios (subject / reference), which the machine's load moves far less.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import genericPool from "generic-pool";
import { Pool as TarnPool } from "tarn";
import PgPool from "pg-pool";
import { EventEmitter } from "node:events";
import { createPool } from "../src/pool.ts";
import { ResourcePool } from "../src/core/resource_pool.ts";
import { systemClock } from "../src/core/clock.ts";
import {
  cpuMicros,
  type FakeConnection,
  fakeConnection,
  fullGc,
  heapUsed,
  initHeapProbe,
  instantDriver,
  median,
  parseArgs,
  ReferencePool,
  runtime,
  scriptArgs,
} from "./lib.ts";

/** A pool under test, behind one shape. */
interface Subject {
  /** One lease → await query → release, as a user writes it. */
  cycle(): Promise<void>;
  /** Opens `n` connections and leaves them idle. */
  prewarm(n: number): Promise<void>;
  /** The bare acquire a caller waits on (pgdbpool: `pool.lease`); for heap probes. */
  acquire(): Promise<unknown>;
  /** Leases `n` connections and keeps them; returns what gives them back. */
  hold(n: number): Promise<() => void>;
  /** Tears the pool down. */
  close(): Promise<void>;
}

type Factory = (size: number, stock?: FakeConnection[]) => Subject;

// The instant "connection" every subject uses.
function take(stock?: FakeConnection[]): FakeConnection {
  return stock?.pop() ?? fakeConnection();
}

/** Leases n, then releases them, through acquire/release functions. */
async function holdVia<C>(
  n: number,
  acquire: () => Promise<C>,
  release: (c: C) => void,
): Promise<() => void> {
  const held = await Promise.all(Array.from({ length: n }, acquire));
  return () => held.forEach(release);
}

/** `withHandler` over an exclusive or a pipelined group of `size` connections. */
function handlerSubject(size: number, stock: FakeConnection[] | undefined, pipeline: boolean) {
  const pool = createPool({
    db: "postgres://bench@127.0.0.1:5432/bench",
    groups: { g: { connection_count: size, pipeline } },
    driver: instantDriver(stock),
    acquireTimeoutMs: 600_000,
  });
  const s: Subject = {
    cycle() {
      return pool.withHandler("g", async (db) => {
        await db.query("SELECT 1");
      });
    },
    // A pipelined group opens its sessions as callers come; an exclusive one, one per lease held.
    prewarm: pipeline
      ? async () => void await pool.withHandler("g", (db) => db.query("SELECT 1"))
      : async (n) => (await s.hold(n))(),
    acquire: () => pool.lease("g"),
    hold: (n) => holdVia(n, () => pool.lease("g"), (h) => void h.release()),
    close: () => pool.end(),
  };
  return s;
}

const subjects: Record<string, Factory> = {
  reference(size, stock) {
    const pool = new ReferencePool<FakeConnection>(size, () => Promise.resolve(take(stock)));
    const s: Subject = {
      async cycle() {
        const c = await pool.acquire();
        await c.query("SELECT 1");
        pool.release(c);
      },
      async prewarm(n) {
        (await s.hold(n))();
      },
      acquire: () => pool.acquire(),
      hold: (n) => holdVia(n, () => pool.acquire(), (c) => pool.release(c)),
      close: () => Promise.resolve(),
    };
    return s;
  },

  "pgdbpool": (size, stock) => handlerSubject(size, stock, false),
  "pgdbpool-pipelined": (size, stock) => handlerSubject(size, stock, true),

  "pgdbpool-lease"(size, stock) {
    const pool = createPool({
      db: "postgres://bench@127.0.0.1:5432/bench",
      groups: { g: { connection_count: size } },
      driver: instantDriver(stock),
      acquireTimeoutMs: 600_000,
    });
    const s: Subject = {
      async cycle() {
        const db = await pool.lease("g");
        await db.query("SELECT 1");
        await db.release();
      },
      async prewarm(n) {
        (await s.hold(n))();
      },
      acquire: () => pool.lease("g"),
      hold: (n) => holdVia(n, () => pool.lease("g"), (h) => void h.release()),
      close: () => pool.end(),
    };
    return s;
  },

  "pgdbpool-core"(size, stock) {
    const pool = new ResourcePool<FakeConnection>({
      max: size,
      partitions: 1,
      nextPartition: () => 0,
      create: () => Promise.resolve({ resource: take(stock), partition: 0 }),
      destroy: () => {},
      clock: systemClock,
      timeoutError: () => new Error("timeout"),
      closedError: () => new Error("closed"),
    });
    const opts = { timeoutMs: 600_000 };
    const acquire = () => Promise.resolve(pool.acquire(opts));
    const s: Subject = {
      async cycle() {
        const got = pool.acquire(opts);
        const e = got instanceof Promise ? await got : got;
        await e.resource.query("SELECT 1");
        pool.release(e);
      },
      async prewarm(n) {
        (await s.hold(n))();
      },
      acquire,
      hold: (n) => holdVia(n, acquire, (e) => pool.release(e)),
      close: () => pool.close(0),
    };
    return s;
  },

  "generic-pool"(size, stock) {
    const pool = genericPool.createPool<FakeConnection>({
      create: () => Promise.resolve(take(stock)),
      destroy: () => Promise.resolve(),
    }, { max: size, min: 0 });
    const s: Subject = {
      async cycle() {
        const c = await pool.acquire();
        await c.query("SELECT 1");
        pool.release(c);
      },
      async prewarm(n) {
        (await s.hold(n))();
      },
      acquire: () => pool.acquire(),
      hold: (n) => holdVia(n, () => pool.acquire(), (c) => void pool.release(c)),
      close: async () => {
        await pool.drain();
        await pool.clear();
      },
    };
    return s;
  },

  tarn(size, stock) {
    const pool = new TarnPool<FakeConnection>({
      create: () => Promise.resolve(take(stock)),
      destroy: () => {},
      min: 0,
      max: size,
      acquireTimeoutMillis: 600_000,
    });
    const s: Subject = {
      async cycle() {
        const c = await pool.acquire().promise;
        await c.query("SELECT 1");
        pool.release(c);
      },
      async prewarm(n) {
        (await s.hold(n))();
      },
      acquire: () => pool.acquire().promise,
      hold: (n) => holdVia(n, () => pool.acquire().promise, (c) => void pool.release(c)),
      close: async () => void (await pool.destroy()),
    };
    return s;
  },

  "pg-pool"(size, stock) {
    // pg.Pool's pool (npm pg-pool) over a fake pg.Client.
    class FakeClient extends EventEmitter {
      _queryable = true;
      _ending = false;
      readonly conn = take(stock);
      connect(cb?: (err?: Error) => void) {
        if (!cb) return Promise.resolve();
        queueMicrotask(() => cb());
      }
      query(text: string) {
        return this.conn.query(text);
      }
      end(cb?: () => void) {
        this._ending = true;
        if (cb) queueMicrotask(cb);
        else return Promise.resolve();
      }
    }
    // deno-lint-ignore no-explicit-any
    const pool = new (PgPool as any)({ Client: FakeClient, max: size });
    // deno-lint-ignore no-explicit-any
    type C = any;
    const s: Subject = {
      async cycle() {
        const c: C = await pool.connect();
        await c.query("SELECT 1");
        c.release();
      },
      async prewarm(n) {
        (await s.hold(n))();
      },
      acquire: () => pool.connect(),
      hold: (n) => holdVia(n, () => pool.connect() as Promise<C>, (c: C) => c.release()),
      close: () => pool.end(),
    };
    return s;
  },
};

/** Runs `tasks` closed loops of `cycle` until `ms` have passed; returns leases and ns. */
async function drive(
  subject: Subject,
  tasks: number,
  ms: number,
): Promise<{ leases: number; ns: number }> {
  let leases = 0;
  const t0 = performance.now();
  const deadline = t0 + ms;
  // Many callers: each checks the clock every lease, so a slow pool stops in time.
  const mask = tasks > 64 ? 0 : 15;
  const loop = async () => {
    let i = 0;
    for (;;) {
      await subject.cycle();
      i++;
      if ((i & mask) === 0 && performance.now() > deadline) break;
    }
    leases += i;
  };
  const all: Promise<void>[] = [];
  for (let k = 0; k < tasks; k++) all.push(loop());
  await Promise.all(all);
  return { leases, ns: (performance.now() - t0) * 1e6 };
}

async function timed(
  factory: Factory,
  size: number,
  tasks: number,
  warmMs: number,
  measureMs: number,
) {
  const subject = factory(size);
  await subject.prewarm(size);
  await drive(subject, tasks, warmMs);
  const cpu0 = cpuMicros();
  const { leases, ns } = await drive(subject, tasks, measureMs);
  // CPU time too: time the process spent descheduled on a shared machine is not in it.
  const cpuNs = (cpuMicros() - cpu0) * 1000;
  await subject.close();
  return { leases, nsPerLease: ns / leases, cpuNsPerLease: cpuNs / leases };
}

/**
 * The subject against the reference pool in this one process: both warmed, then
 * short slices of each in alternating order, so that the load other jobs put
 * on the machine falls on both alike. Returns the median of per-slice ratios.
 */
async function paired(factory: Factory, size: number, tasks: number, warmMs: number, ms: number) {
  const ref = subjects.reference(size);
  const mine = factory(size);
  await ref.prewarm(size);
  await mine.prewarm(size);
  await drive(ref, tasks, Math.max(300, warmMs));
  await drive(mine, tasks, Math.max(300, warmMs));
  const ratios: number[] = [];
  const slices = Math.max(40, Math.round(ms / 10));
  for (let i = 0; i < slices; i++) {
    const a = await drive(i % 2 ? ref : mine, tasks, 10);
    const b = await drive(i % 2 ? mine : ref, tasks, 10);
    const [r, m] = i % 2 ? [a, b] : [b, a];
    ratios.push((m.ns / m.leases) / (r.ns / r.leases));
  }
  await mine.close();
  return { slices, ratioToReference: median(ratios) };
}

async function heapWaiters(factory: Factory, waiters: number) {
  const subject = factory(10);
  const giveBack = await subject.hold(10);
  const pending: Promise<void>[] = new Array(waiters);
  for (let i = 0; i < waiters; i++) pending[i] = Promise.resolve();
  fullGc();
  const before = heapUsed();
  for (let i = 0; i < waiters; i++) pending[i] = subject.cycle();
  await new Promise((r) => setTimeout(r, 0));
  fullGc();
  const after = heapUsed();
  // Let every waiter through, then leave the pool (some pools' close waits for
  // resources that are still out; the process ends soon anyway).
  giveBack();
  await Promise.all(pending);
  return { bytesPerWaiter: (after - before) / waiters };
}

async function heapAcquire(factory: Factory, waiters: number) {
  const subject = factory(10);
  const giveBack = await subject.hold(10);
  const pending: Promise<unknown>[] = new Array(waiters);
  for (let i = 0; i < waiters; i++) pending[i] = Promise.resolve();
  fullGc();
  const before = heapUsed();
  for (let i = 0; i < waiters; i++) pending[i] = subject.acquire();
  await new Promise((r) => setTimeout(r, 0));
  fullGc();
  const after = heapUsed();
  for (const p of pending) p.catch(() => {});
  giveBack(); // the first ten waiters get a connection; the rest stay queued
  return { bytesPerWaiter: (after - before) / waiters };
}

async function heapIdle(factory: Factory, size: number) {
  const stock = Array.from({ length: size }, fakeConnection);
  const subject = factory(size, stock);
  await subject.prewarm(1); // lazy one-time setup (drivers, endpoints) outside the figure
  fullGc();
  const before = heapUsed();
  await subject.prewarm(size);
  await new Promise((r) => setTimeout(r, 0));
  fullGc();
  const after = heapUsed();
  return { bytesPerIdle: (after - before) / (size - 1) };
}

/** The reference pool must be correct to be a yardstick: FIFO waiters, no double lease. */
async function checkReference(): Promise<void> {
  let n = 0;
  const pool = new ReferencePool<number>(2, () => Promise.resolve(n++));
  const held = new Set<number>();
  const order: string[] = [];
  const take = async (who: string) => {
    const r = await pool.acquire();
    if (held.has(r)) throw new Error(`reference pool: resource ${r} leased twice`);
    held.add(r);
    order.push(who);
    return r;
  };
  const give = (r: number) => {
    held.delete(r);
    pool.release(r);
  };
  const a = await take("a");
  const b = await take("b");
  const waiters = ["w1", "w2", "w3"].map(take);
  give(a);
  give(b);
  give(await waiters[0]);
  await Promise.all(waiters);
  if (order.join() !== "a,b,w1,w2,w3" || n !== 2) {
    throw new Error(`reference pool: served ${order.join()} with ${n} resources`);
  }
}

async function main() {
  const args = parseArgs(scriptArgs());
  const name = args.subject ?? "pgdbpool";
  const factory = subjects[name];
  if (!factory) throw new Error(`unknown subject ${name}: one of ${Object.keys(subjects)}`);
  const warmMs = Number(args.warm ?? 200);
  const measureMs = Number(args.measure ?? 500);
  const scenarios = (args.scenarios ?? "seq:10,cont:64/10").split(",");
  if (name === "reference") await checkReference();
  await initHeapProbe();
  const lines: string[] = [];
  for (const sc of scenarios) {
    const [kind, arg] = sc.split(":");
    let out: Record<string, unknown>;
    if (kind === "seq") {
      out = await timed(factory, Number(arg), 1, warmMs, measureMs);
    } else if (kind === "cont") {
      const [t, s] = arg.split("/").map(Number);
      out = await timed(factory, s, t, warmMs, measureMs);
    } else if (kind === "paired-seq") {
      out = await paired(factory, Number(arg), 1, warmMs, measureMs);
    } else if (kind === "paired-cont") {
      const [t, s] = arg.split("/").map(Number);
      out = await paired(factory, s, t, warmMs, measureMs);
    } else if (kind === "heap-waiters") {
      out = fullGc() ? await heapWaiters(factory, Number(arg)) : { error: "no gc exposed" };
    } else if (kind === "heap-acquire") {
      out = fullGc() ? await heapAcquire(factory, Number(arg)) : { error: "no gc exposed" };
    } else if (kind === "heap-idle") {
      out = fullGc() ? await heapIdle(factory, Number(arg)) : { error: "no gc exposed" };
    } else throw new Error(`unknown scenario ${sc}`);
    lines.push(JSON.stringify({ kind: "core", runtime, subject: name, scenario: sc, ...out }));
  }
  if (args.out) fs.writeFileSync(args.out, lines.join("\n") + "\n");
  else console.log(lines.join("\n"));
}

await main();
process.exit(0);
