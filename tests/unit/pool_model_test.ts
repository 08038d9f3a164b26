/**
 * A model-based property test of the pool over the in-memory fake driver and
 * the fake clock: fast-check generates long sequences of commands (lease,
 * release, withHandler whose fn returns, throws, holds or hangs, queries,
 * aborts, clock advances, endpoints going down and up, sessions dying while
 * idle or leased or turning into zombies that fail on next use, `end()`), runs
 * them one at a time, lets every promise chain settle after each, and checks
 * the pool against a simple model of who holds what.
 *
 * Runs: `PGDBPOOL_FC_RUNS` (default 60); `PGDBPOOL_FC_SEED` replays one seed.
 * Counterexamples found by it live on below as plain regression tests.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AcquireTimeoutError,
  CommitUnknownError,
  ConnectionError,
  createPool,
  type Handler,
  HandlerReleasedError,
  OfflineError,
  type Pool,
  PoolClosedError,
  QueryError,
} from "../../mod.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

const RUNS = Number(
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env
    .PGDBPOOL_FC_RUNS ?? "",
) || 150;
const ENV =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ??
    {};
const SEED_ENV = ENV.PGDBPOOL_FC_SEED;
/** With `PGDBPOOL_FC_VERBOSE=1`, how often each outcome occurred is printed: proof the runs reach deep states. */
const coverage = new Map<string, number>();
function cover(what: string): void {
  coverage.set(what, (coverage.get(what) ?? 0) + 1);
}

// ---------------------------------------------------------------------------
// Settling: the pool and the fake driver only use promises (the fake clock's
// timers fire inside advance()), so one macrotask turn runs every chain to rest.
// ---------------------------------------------------------------------------

const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;

function settle(): Promise<void> {
  return new Promise((resolve) => {
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/** A small seeded PRNG, so back-off jitter (Math.random) replays with the counterexample. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

type Behavior = "return" | "throw" | "hold" | "hang";

/** The commands; `k` picks among the applicable calls or sessions, modulo their number. */
export type Op =
  | { t: "lease"; g: number; timeoutMs?: number; signal: boolean }
  | { t: "with"; g: number; behavior: Behavior; timeoutMs?: number; signal: boolean }
  | { t: "release"; k: number }
  | { t: "burst"; g: number; n: number; lease: boolean }
  | { t: "finish"; k: number; how: "return" | "throw"; abortAfter?: number }
  | { t: "query"; k: number; sql: "SELECT $1" | "FAIL" | "BEGIN" }
  | { t: "abort"; k: number }
  | { t: "advance"; ms: number }
  | { t: "down"; e: number }
  | { t: "up"; e: number }
  | { t: "kill"; k: number; held: boolean }
  | { t: "zombie"; k: number }
  | { t: "stall"; e: number }
  | { t: "unstall"; e: number }
  | { t: "end" };

/** The pool's shape for one run. */
export interface ModelConfig {
  endpoints: number;
  groups: { count: number; autocommit: boolean }[];
  acquireTimeoutMs: number;
  pingAfterIdleMs: number;
  endTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  seed: number;
}

const timeoutArb = fc.option(fc.constantFrom(0, 50, 100, 1000), { nil: undefined });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("lease" as const),
      g: fc.nat(3),
      timeoutMs: timeoutArb,
      signal: fc.boolean(),
    }, { requiredKeys: ["t", "g", "signal"] }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("with" as const),
      g: fc.nat(3),
      behavior: fc.constantFrom<Behavior>("return", "throw", "hold", "hang"),
      timeoutMs: timeoutArb,
      signal: fc.boolean(),
    }, { requiredKeys: ["t", "g", "behavior", "signal"] }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("release" as const), k: fc.nat(20) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("burst" as const),
      g: fc.nat(3),
      n: fc.integer({ min: 2, max: 4 }),
      lease: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("finish" as const),
      k: fc.nat(20),
      how: fc.constantFrom<"return" | "throw">("return", "throw"),
      // fn settles, and its signal fires that many microtasks later.
      abortAfter: fc.option(fc.nat(3), { nil: undefined }),
    }, { requiredKeys: ["t", "k", "how"] }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("query" as const),
      k: fc.nat(20),
      sql: fc.constantFrom<"SELECT $1" | "FAIL" | "BEGIN">("SELECT $1", "FAIL", "BEGIN"),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("abort" as const), k: fc.nat(20) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("advance" as const),
      ms: fc.constantFrom(1, 49, 50, 100, 250, 1000, 1001, 5000, 20_000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("down" as const), e: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("up" as const), e: fc.nat(2) }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("kill" as const), k: fc.nat(20), held: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("zombie" as const), k: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("stall" as const), e: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("unstall" as const), e: fc.nat(2) }) },
);

/**
 * A run: commands, then (often) `end()` followed by a few more commands, so
 * most of a run exercises a live pool and its end still meets calls in flight.
 */
const opsArb: fc.Arbitrary<Op[]> = fc.record({
  before: fc.array(opArb, { maxLength: 80, size: "max" }),
  end: fc.boolean(),
  after: fc.array(opArb, { maxLength: 8 }),
}).map(({ before, end, after }) => end ? [...before, { t: "end" as const }, ...after] : before);

const configArb: fc.Arbitrary<ModelConfig> = fc.record({
  endpoints: fc.integer({ min: 1, max: 3 }),
  groups: fc.array(
    fc.record({ count: fc.integer({ min: 1, max: 3 }), autocommit: fc.boolean() }),
    { minLength: 1, maxLength: 2 },
  ),
  acquireTimeoutMs: fc.constantFrom(100, 1000, 10_000),
  pingAfterIdleMs: fc.constantFrom(0, 1000, 60_000),
  endTimeoutMs: fc.constantFrom(0, 500, 5000),
  reconnectBaseMs: fc.constantFrom(10, 250),
  reconnectMaxMs: fc.constantFrom(1000, 10_000),
  seed: fc.integer(),
});

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Call {
  readonly id: number;
  readonly kind: "lease" | "with";
  readonly group: string;
  readonly behavior: Behavior | undefined;
  readonly timeoutMs: number;
  readonly startedAt: number;
  readonly afterEnd: boolean;
  readonly ac: AbortController | undefined;
  readonly thrown: Error;
  abortReason?: Error;
  /** The lease promise (lease) or the withHandler promise (with) settled. */
  outcome?: Outcome;
  settledAt?: number;
  /** The fn ran (with) or the lease resolved (lease). */
  handler?: Handler;
  /** Holds the session now, as far as the caller knows. */
  active: boolean;
  /** The session's pid, from the first query the holder ran. */
  pid?: number;
  /** The caller released (lease) or fn settled / was abandoned (with). */
  released: boolean;
  gate?: { resolve(v: unknown): void; reject(e: unknown): void };
  covered?: boolean;
  /** Successful COMMITs on its session when fn started (transactional groups). */
  commitsAtStart?: number;
  /** Why the holder's first query failed, if it did. */
  lastError?: unknown;
}

const WHOAMI = "SELECT $1";
const ID_BASE = 1_000_000;

class World {
  readonly driver = new FakeDriver();
  readonly clock = new FakeClock();
  readonly pool: Pool;
  readonly cfg: ModelConfig;
  readonly groupNames: string[];
  readonly counts = new Map<string, number>();
  readonly calls: Call[] = [];
  readonly zombies = new Set<number>();
  /** Query ids → pid of the session the query ran on. */
  readonly whoami = new Map<number, number>();
  /** When the model last gave each session (pid) back. */
  readonly releasedAt = new Map<number, number>();
  /** Successful COMMITs per session pid. */
  readonly commits = new Map<number, number>();
  readonly problems: string[] = [];
  readonly log: string[] = [];
  ending: Promise<void> | undefined;
  endedAt = -1;
  endResolved = false;
  endGraceOver = false;
  #nextId = ID_BASE;

  constructor(cfg: ModelConfig) {
    this.cfg = cfg;
    const hosts = ["a", "b", "c"].slice(0, cfg.endpoints);
    this.groupNames = cfg.groups.map((_, i) => `g${i}`);
    const groups: Record<string, { connection_count: number; autocommit: boolean }> = {};
    cfg.groups.forEach((g, i) => {
      groups[`g${i}`] = { connection_count: g.count, autocommit: g.autocommit };
      this.counts.set(`g${i}`, g.count);
    });
    this.driver.respond = (text, params, s) => {
      if (text === WHOAMI && typeof params?.[0] === "number" && params[0] >= ID_BASE) {
        this.whoami.set(params[0], s.pid);
      }
      if (text === "SELECT 1") {
        // A ping: the pool thinks nobody holds this session.
        const holder = this.calls.find((c) => c.active && c.pid === s.pid);
        if (holder) this.problem(`pool pinged session ${s.pid} held by call ${holder.id}`);
      }
      if (this.zombies.has(s.pid)) {
        // A dead socket discovered on use.
        this.zombies.delete(s.pid);
        s.kill();
        throw Object.assign(new Error("connection reset by peer"), {
          code: "ECONNRESET",
          pid: s.pid,
        });
      }
      const result = defaultResponder(text, params, s);
      if (text === "COMMIT" && result.command === "COMMIT") {
        this.commits.set(s.pid, (this.commits.get(s.pid) ?? 0) + 1);
      }
      return result;
    };
    this.pool = createPool({
      // query_timeout 0: no stall deadline either (the model has no housekeeping).
      db: hosts.map((host, i) => ({
        host,
        port: 5432 + i,
        user: "u",
        pass: "pw",
        query_timeout: 0,
      })),
      groups,
      driver: this.driver,
      acquireTimeoutMs: cfg.acquireTimeoutMs,
      pingAfterIdleMs: cfg.pingAfterIdleMs,
      endTimeoutMs: cfg.endTimeoutMs,
      // The model has no housekeeping: sessions live until the model ends them.
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      reconnectBaseMs: cfg.reconnectBaseMs,
      reconnectMaxMs: Math.max(cfg.reconnectBaseMs, cfg.reconnectMaxMs),
    }, { clock: this.clock });
  }

  problem(msg: string): void {
    this.problems.push(msg);
  }

  host(e: number): string {
    const i = e % this.cfg.endpoints;
    return `${["a", "b", "c"][i]}:${5432 + i}`;
  }

  // ---- commands -----------------------------------------------------------

  startCall(kind: "lease" | "with", g: number, behavior: Behavior | undefined, op: {
    timeoutMs?: number;
    signal: boolean;
  }): void {
    const group = this.groupNames[g % this.groupNames.length];
    const id = this.#nextId++;
    // A fn that hangs forever needs a signal, or nothing could ever end it.
    const signal = op.signal || behavior === "hang";
    const call: Call = {
      id,
      kind,
      group,
      behavior,
      timeoutMs: op.timeoutMs ?? this.cfg.acquireTimeoutMs,
      startedAt: this.clock.now(),
      afterEnd: this.ending !== undefined,
      ac: signal ? new AbortController() : undefined,
      thrown: new Error(`fn of call ${id} threw`),
      active: false,
      released: false,
    };
    this.calls.push(call);
    const options = { signal: call.ac?.signal, timeoutMs: op.timeoutMs };
    const settled = (outcome: Outcome) => {
      if (call.outcome) this.problem(`call ${id} settled twice`);
      call.outcome = outcome;
      call.settledAt = this.clock.now();
    };
    if (kind === "lease") {
      this.pool.lease(group, options).then(async (h) => {
        settled({ ok: true, value: h });
        call.handler = h;
        call.active = true;
        await this.whoamiOf(call, h);
      }, (error) => settled({ ok: false, error }));
      return;
    }
    this.pool.withHandler(group, async (db) => {
      if (call.handler) this.problem(`fn of call ${id} ran twice`);
      call.handler = db;
      call.active = true;
      try {
        await this.whoamiOf(call, db);
        if (call.pid === undefined) throw call.lastError;
        switch (behavior) {
          case "return":
            return id;
          case "throw":
            throw call.thrown;
          case "hold":
          case "hang":
            return await new Promise((resolve, reject) => {
              if (behavior === "hold") call.gate = { resolve, reject };
            });
        }
      } finally {
        if (call.active) call.active = false;
        call.released = true;
        if (call.pid !== undefined) this.releasedAt.set(call.pid, this.clock.now());
      }
    }, options).then(
      (value) => settled({ ok: true, value }),
      (error) => settled({ ok: false, error }),
    );
  }

  async whoamiOf(call: Call, h: Handler): Promise<void> {
    try {
      const r = await h.query<{ pid: number }>(WHOAMI, [call.id]);
      call.pid = r.rows[0].pid;
      call.commitsAtStart = this.commits.get(call.pid) ?? 0;
    } catch (err) {
      call.pid = undefined;
      call.lastError = err;
      if (!(err instanceof ConnectionError)) this.problem(`whoami of ${call.id} failed: ${err}`);
      // The pool hands out no session it knows is closed, and pings one that sat idle
      // past the window: only a zombie used within the window may fail here.
      // (With BEGIN sent first, BEGIN meets the zombie: its error, the cause, names the session.)
      const pid = this.whoami.get(call.id) ?? ((err as Error).cause as { pid?: number })?.pid;
      if (pid === undefined) {
        this.problem(`call ${call.id} was handed a session that was already closed`);
        return;
      }
      const idle = this.clock.now() - (this.releasedAt.get(pid) ?? this.clock.now());
      if (idle > this.cfg.pingAfterIdleMs) {
        this.problem(`call ${call.id} got session ${pid}, idle ${idle} ms, without a ping`);
      }
      if (call.kind === "lease") call.pid = pid;
    }
  }

  release(k: number): Promise<void> | undefined {
    const leases = this.calls.filter((c) => c.kind === "lease" && c.handler);
    if (leases.length === 0) return undefined;
    const call = leases[k % leases.length];
    if (!call.released && call.pid !== undefined) this.releasedAt.set(call.pid, this.clock.now());
    call.active = false;
    call.released = true;
    return call.handler!.release().then(
      () => {},
      (err) => this.problem(`release() of call ${call.id} rejected: ${err}`),
    );
  }

  finish(k: number, how: "return" | "throw", abortAfter: number | undefined): void {
    const held = this.calls.filter((c) => c.gate && !c.released);
    if (held.length === 0) return;
    const call = held[k % held.length];
    if (how === "return") call.gate!.resolve(call.id);
    else call.gate!.reject(call.thrown);
    if (abortAfter === undefined || !call.ac || call.abortReason) return;
    // The signal fires a few microtasks after fn settled: either fn's outcome
    // stands (committed) or the call rejects with the reason; never both halves.
    let later = Promise.resolve();
    for (let i = 0; i < abortAfter; i++) later = later.then(() => {});
    later.then(() => {
      if (call.abortReason) return;
      call.abortReason = new Error(`late abort of call ${call.id}`);
      call.ac!.abort(call.abortReason);
      call.active = false;
      call.released = true;
    });
  }

  burst(g: number, n: number, lease: boolean): void {
    for (let i = 0; i < n; i++) {
      if (lease) this.startCall("lease", g, undefined, { signal: false });
      else this.startCall("with", g, "return", { signal: false });
    }
  }

  stall(e: number): void {
    const host = this.host(e);
    if (!this.driver.hanging.has(host)) this.driver.hanging.set(host, []);
  }

  unstall(e: number): void {
    const host = this.host(e);
    const waiting = this.driver.hanging.get(host);
    this.driver.hanging.delete(host);
    for (const resume of waiting ?? []) resume();
  }

  /** Connects in flight (each hangs on a stalled endpoint). */
  get stalledConnects(): number {
    let n = 0;
    for (const list of this.driver.hanging.values()) n += list.length;
    return n;
  }

  query(k: number, sql: string): void {
    const withHandler = this.calls.filter((c) => c.handler);
    if (withHandler.length === 0) return;
    const call = withHandler[k % withHandler.length];
    const releasedBefore = call.released;
    const params = sql === WHOAMI ? [0] : undefined;
    call.handler!.query(sql, params).then(
      () => {
        if (releasedBefore) this.problem(`query on released handler of call ${call.id} succeeded`);
        if (sql === "FAIL") this.problem(`FAIL succeeded on call ${call.id}`);
      },
      (err) => {
        if (releasedBefore) {
          if (!(err instanceof HandlerReleasedError)) {
            this.problem(`query on released handler ${call.id}: ${err}, not HandlerReleasedError`);
          }
        } else if (!(err instanceof ConnectionError || err instanceof QueryError)) {
          this.problem(`query on call ${call.id} failed with ${err}`);
        }
      },
    );
  }

  abort(k: number): void {
    const abortable = this.calls.filter((c) => c.ac && !c.abortReason);
    if (abortable.length === 0) return;
    const call = abortable[k % abortable.length];
    call.abortReason = new Error(`abort of call ${call.id}`);
    // A withHandler whose fn runs gives its session up at once.
    const abandons = call.kind === "with" && call.active;
    call.ac!.abort(call.abortReason);
    if (abandons) {
      call.active = false;
      call.released = true;
    }
  }

  kill(k: number, held: boolean): void {
    const holders = new Set(this.calls.filter((c) => c.active).map((c) => c.pid));
    const open = [...this.driver.open].filter((s) => !held || holders.has(s.pid));
    if (open.length === 0) return;
    open.sort((x, y) => x.pid - y.pid)[k % open.length].kill();
  }

  zombie(k: number): void {
    const open: FakeSession[] = [...this.driver.open].sort((x, y) => x.pid - y.pid);
    if (open.length === 0) return;
    this.zombies.add(open[k % open.length].pid);
  }

  end(): void {
    if (this.ending) {
      if (this.pool.end() !== this.ending) this.problem("end() twice returned another promise");
      return;
    }
    this.endedAt = this.clock.now();
    this.ending = this.pool.end();
    this.ending.then(
      () => (this.endResolved = true),
      (err) => this.problem(`end() rejected: ${err}`),
    );
  }

  advance(ms: number): void {
    this.clock.advance(ms);
    if (this.ending && this.clock.now() >= this.endedAt + this.cfg.endTimeoutMs) {
      this.endGraceOver = true;
    }
  }

  async run(op: Op): Promise<void> {
    switch (op.t) {
      case "lease":
        this.startCall("lease", op.g, undefined, op);
        break;
      case "with":
        this.startCall("with", op.g, op.behavior, op);
        break;
      case "release":
        this.release(op.k);
        break;
      case "finish":
        this.finish(op.k, op.how, op.abortAfter);
        break;
      case "burst":
        this.burst(op.g, op.n, op.lease);
        break;
      case "stall":
        this.stall(op.e);
        break;
      case "unstall":
        this.unstall(op.e);
        break;
      case "query":
        this.query(op.k, op.sql);
        break;
      case "abort":
        this.abort(op.k);
        break;
      case "advance":
        this.advance(op.ms);
        break;
      case "down":
        this.driver.down.add(this.host(op.e));
        break;
      case "up":
        this.driver.down.delete(this.host(op.e));
        break;
      case "kill":
        this.kill(op.k, op.held);
        break;
      case "zombie":
        this.zombie(op.k);
        break;
      case "end":
        this.end();
        break;
    }
    await settle();
  }

  // ---- checks -------------------------------------------------------------

  /** The invariants, after every command once everything has settled. */
  check(before: Map<number, { waiting: boolean; served: boolean }>): void {
    const now = this.clock.now();
    const stats = this.pool.stats();
    let sumTotal = 0;
    let sumLive = 0;
    let sumCount = 0;
    let sumWaiting = 0;
    let sumPending = 0;
    let groupsWaiting = 0;
    const unanswered = (c: Call) => !c.outcome && !c.handler;
    for (const g of this.groupNames) {
      const s = stats.groups[g];
      const count = this.counts.get(g)!;
      sumCount += count;
      sumTotal += s.total;
      sumLive += s.total - s.pending;
      sumWaiting += s.waiting;
      sumPending += s.pending;
      if (s.waiting > 0) groupsWaiting++;
      const tag = `group ${g}`;
      if (s.total > count) this.problem(`${tag}: total ${s.total} > connection_count ${count}`);
      if (s.idle + s.leased + s.pending !== s.total) {
        this.problem(
          `${tag}: idle ${s.idle} + leased ${s.leased} + pending ${s.pending} ≠ total ${s.total}`,
        );
      }
      if (s.created - s.destroyed !== s.total - s.pending) {
        this.problem(
          `${tag}: created ${s.created} - destroyed ${s.destroyed} ≠ open ${s.total - s.pending}`,
        );
      }
      const active = this.calls.filter((c) => c.group === g && c.active).length;
      if (!this.endGraceOver && s.leased !== active) {
        this.problem(`${tag}: leased ${s.leased} but the model has ${active} holders`);
      }
      if (s.leased > active) this.problem(`${tag}: leased ${s.leased} > holders ${active}`);
      // Unanswered calls are queued, or opening a connection (pending).
      const open = this.calls.filter((c) => c.group === g && unanswered(c)).length;
      if (open < s.waiting || open > s.waiting + s.pending) {
        this.problem(
          `${tag}: ${open} calls unanswered, but waiting ${s.waiting} and pending ${s.pending}`,
        );
      }
      const timedOut = this.calls.filter((c) =>
        c.group === g && c.outcome && !c.outcome.ok &&
        c.outcome.error instanceof AcquireTimeoutError
      ).length;
      if (s.timedOut !== timedOut) {
        this.problem(`${tag}: stats.timedOut ${s.timedOut} ≠ ${timedOut} AcquireTimeoutErrors`);
      }
    }
    // Every connect pending for a group hangs on a stalled endpoint; so may a
    // probe no caller waits for (a caller served elsewhere left it to its connect_timeout).
    if (sumPending > this.stalledConnects) {
      this.problem(`${sumPending} connects pending, but ${this.stalledConnects} are stalled`);
    }
    if (this.driver.open.size > sumTotal) {
      this.problem(
        `driver has ${this.driver.open.size} open sessions, the pool counts ${sumTotal}`,
      );
    }
    // A probe that loses the race may still open its session (closed at once): one
    // per endpoint at most, since a backed-off endpoint has one probe out at a time.
    if (this.driver.maxOpen > sumCount + this.cfg.endpoints) {
      this.problem(`driver had ${this.driver.maxOpen} sessions open at once > ${sumCount}`);
    }
    const connections = stats.endpoints.reduce((n, e) => n + e.connections, 0);
    if (connections !== sumLive) {
      this.problem(`endpoints count ${connections} connections, groups ${sumLive}`);
    }

    // Exclusive: no session held by two holders at once.
    const holders = new Map<number, number>();
    for (const c of this.calls) {
      if (!c.active || c.pid === undefined) continue;
      const other = holders.get(c.pid);
      if (other !== undefined) this.problem(`session ${c.pid} held by calls ${other} and ${c.id}`);
      holders.set(c.pid, c.id);
    }
    // A session nobody holds is clean: no transaction left open on it.
    for (const s of this.driver.open) {
      if (!holders.has(s.pid) && s.tx !== "idle" && !this.zombies.has(s.pid)) {
        this.problem(`session ${s.pid} is back in the pool with its transaction ${s.tx}`);
      }
    }

    // Waiters: FIFO per group, none past its timeout, its abort or end(). A caller sent back
    // after its session failed its ping keeps its place (docs/fifo.md); here a dead session's
    // ping fails before a live one's answers, so no younger caller's ping passes first and the
    // check holds strictly.
    for (const c of this.calls) {
      const pending = stats.groups[c.group].pending > 0;
      const servedNow = c.handler !== undefined && !before.get(c.id)?.served;
      if (servedNow && !pending) {
        for (const older of this.calls) {
          if (older.id < c.id && older.group === c.group && unanswered(older)) {
            this.problem(`call ${c.id} was served while the older call ${older.id} still waits`);
          }
        }
      }
      if (unanswered(c)) {
        // (A timer is due once the clock has moved to its time; with 0 ms, once it moved at all.)
        if (now - c.startedAt >= c.timeoutMs && now > c.startedAt) {
          this.problem(
            `call ${c.id} still waits ${now - c.startedAt} ms past its ${c.timeoutMs} ms timeout`,
          );
        }
        if (c.abortReason) this.problem(`call ${c.id} still waits after its abort`);
        if (this.ending) this.problem(`call ${c.id} still waits after end()`);
      }
      this.checkOutcome(c);
    }

    // Timers: one per group whose queue is not empty (armed for its earliest
    // deadline), none per waiter; end() adds its grace timers. A connect
    // waiting on a probe (stalled, then) arms one: its head start or its next role check.
    const timers = this.clock.pendingTimers;
    const probing = this.stalledConnects;
    if (!this.ending && (timers < groupsWaiting || timers > groupsWaiting + probing)) {
      this.problem(
        `${timers} timers pending for ${groupsWaiting} groups with waiters (${sumWaiting} waiters)`,
      );
    }

    // end(): resolves once nothing is held or the grace period is over; then all is closed.
    if (this.ending) {
      const held = Object.values(stats.groups).some((s) => s.leased > 0 || s.pending > 0);
      if (!this.endResolved && (!held || this.endGraceOver)) {
        this.problem(`end() has not resolved (held: ${held}, grace over: ${this.endGraceOver})`);
      }
      if (this.endResolved) {
        if (this.driver.open.size !== 0) {
          this.problem(`end() resolved with ${this.driver.open.size} sessions open`);
        }
        for (const [g, s] of Object.entries(stats.groups)) {
          if (s.total !== s.pending) {
            this.problem(`end() resolved with group ${g} at total ${s.total}`);
          }
        }
        if (timers !== 0) this.problem(`${timers} timers left after end()`);
      }
    }
  }
  checkOutcome(c: Call): void {
    const o = c.outcome;
    if (o && !c.covered) {
      c.covered = true;
      const how = o.ok
        ? "ok"
        : o.error === c.thrown
        ? "fn's error"
        : o.error === c.abortReason
        ? "abort reason"
        : (o.error as Error).name;
      cover(`${c.kind}${c.behavior ? ` ${c.behavior}` : ""}${c.handler ? "" : " (no fn)"}: ${how}`);
    }
    if (!o) return;
    const tag = `call ${c.id} (${c.kind}${c.behavior ? ` ${c.behavior}` : ""})`;
    if (c.afterEnd) {
      if (o.ok || !(o.error instanceof PoolClosedError)) {
        this.problem(`${tag} after end() gave ${o.ok ? "a result" : o.error}, not PoolClosedError`);
      }
      return;
    }
    if (o.ok) {
      if (c.kind === "with" && c.abortReason && !c.released) {
        this.problem(`${tag} resolved though aborted while fn ran`);
      }
      if (c.kind === "with" && o.value !== c.id) this.problem(`${tag} resolved with ${o.value}`);
      // Nothing reported that did not happen: a transaction reported done was committed.
      const tx = !this.cfg.groups[this.groupNames.indexOf(c.group)].autocommit;
      if (c.kind === "with" && tx && c.pid !== undefined && c.commitsAtStart !== undefined) {
        if ((this.commits.get(c.pid) ?? 0) <= c.commitsAtStart) {
          this.problem(`${tag} resolved, but its transaction was never committed`);
        }
      }
      return;
    }
    const e = o.error;
    if (c.abortReason && e === c.abortReason) return;
    if (e instanceof AcquireTimeoutError) {
      if (c.handler) this.problem(`${tag} timed out after its fn ran`);
      if (c.settledAt! - c.startedAt < c.timeoutMs) {
        this.problem(`${tag} timed out after ${c.settledAt! - c.startedAt} ms < ${c.timeoutMs} ms`);
      }
      return;
    }
    if (e instanceof OfflineError || e instanceof PoolClosedError) {
      if (c.handler) this.problem(`${tag}: ${e.name} after its fn ran`);
      return;
    }
    if (c.kind === "with" && c.handler) {
      if (e === c.thrown) return;
      if (e instanceof ConnectionError || e instanceof CommitUnknownError) return;
      if (e instanceof QueryError) return;
    }
    this.problem(
      `${tag} rejected with an unexpected ${e instanceof Error ? e.name : typeof e}: ${e}`,
    );
  }

  /** Ends every hold, then lets time run out: every call must have settled. */
  async drainAll(): Promise<void> {
    for (let e = 0; e < this.cfg.endpoints; e++) this.unstall(e);
    await settle();
    for (let round = 0; round < 50; round++) {
      let acted = false;
      for (const c of this.calls) {
        if (c.kind === "lease" && c.handler && !c.released) {
          this.release(this.calls.filter((x) => x.kind === "lease" && x.handler).indexOf(c));
          acted = true;
        } else if (c.gate && !c.released) {
          c.gate.resolve(c.id);
          acted = true;
        } else if (c.kind === "with" && c.active && c.ac && !c.abortReason) {
          this.abort(this.calls.filter((x) => x.ac && !x.abortReason).indexOf(c));
          acted = true;
        }
      }
      await settle();
      const waiting = this.calls.some((c) => !c.outcome && !c.handler);
      const running = this.calls.some((c) => c.kind === "with" && c.handler && !c.outcome);
      if (!acted && !waiting && !running) return;
      if (waiting) this.advance(1_000_000);
      await settle();
    }
    this.problem("calls still pending after 50 rounds of releasing and waiting");
  }
}

/** Runs one command sequence and returns the problems found (empty: all good). */
export async function runModel(cfg: ModelConfig, ops: readonly Op[]): Promise<string[]> {
  const random = Math.random;
  Math.random = mulberry32(cfg.seed);
  const w = new World(cfg);
  try {
    for (const op of ops) {
      const before = new Map(
        w.calls.map((c) => [c.id, { waiting: !c.outcome && !c.handler, served: !!c.handler }]),
      );
      await w.run(op);
      w.check(before);
      if (w.problems.length) return w.problems.map((p) => `after ${JSON.stringify(op)}: ${p}`);
    }
    // Eventually: every lease comes back, every waiter is answered.
    await w.drainAll();
    w.check(new Map());
    for (const c of w.calls) {
      if (c.kind === "with" && !c.outcome) w.problem(`withHandler call ${c.id} never settled`);
      if (c.kind === "lease" && !c.outcome) w.problem(`lease call ${c.id} never settled`);
    }
    if (!w.ending) {
      for (const [g, s] of Object.entries(w.pool.stats().groups)) {
        if (s.leased || s.waiting || s.pending || s.total !== s.idle) {
          w.problem(`group ${g} not at rest: ${JSON.stringify(s)}`);
        }
      }
      if (w.clock.pendingTimers !== 0) w.problem(`${w.clock.pendingTimers} timers left at rest`);
    }
    // After end(): everything closed, every later call refused.
    w.end();
    await settle();
    w.advance(w.cfg.endTimeoutMs);
    await settle();
    if (!w.endResolved) w.problem("end() did not resolve");
    w.check(new Map());
    for (const g of w.groupNames) {
      let ran = false;
      const results = await Promise.allSettled([
        w.pool.lease(g),
        w.pool.withHandler(g, () => (ran = true)),
      ]);
      for (const r of results) {
        if (r.status !== "rejected" || !(r.reason instanceof PoolClosedError)) {
          w.problem(
            `a call to ${g} after end() gave ${r.status === "rejected" ? r.reason : "a result"}`,
          );
        }
      }
      if (ran) w.problem(`fn ran after end()`);
    }
    if (w.driver.open.size !== 0) w.problem(`${w.driver.open.size} sessions open after end()`);
    return w.problems.map((p) => `at the end: ${p}`);
  } finally {
    Math.random = random;
    // Whatever happened, leave nothing running.
    for (const c of w.calls) c.gate?.resolve(undefined);
    for (const c of w.calls) if (c.ac && !c.abortReason) c.ac.abort(new Error("cleanup"));
    const ending = w.pool.end();
    w.clock.advance(1_000_000);
    await ending;
  }
}

// ---------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------

describe("pool model (fast-check)", () => {
  it("random command sequences keep every invariant of the model", async () => {
    await fc.assert(
      fc.asyncProperty(configArb, opsArb, async (cfg, ops) => {
        const problems = await runModel(cfg, ops);
        assert.deepEqual(problems, []);
      }),
      {
        numRuns: RUNS,
        ...(SEED_ENV ? { seed: Number(SEED_ENV) } : {}),
      },
    );
    if (ENV.PGDBPOOL_FC_VERBOSE) {
      console.log(
        [...coverage].sort().map(([k, n]) => `${String(n).padStart(7)}  ${k}`).join("\n"),
      );
    }
  });
});

// ---------------------------------------------------------------------------
// Counterexamples the model found, kept as plain regression tests.
// ---------------------------------------------------------------------------

describe("pool model counterexamples", () => {
  const A = { host: "a", port: 5432, user: "u", pass: "pw" };
  let pools: { pool: Pool; driver: FakeDriver; clock: FakeClock }[] = [];

  function setup(
    groups: Record<string, { connection_count: number; autocommit?: boolean }>,
    extra: Record<string, unknown> = {},
  ): { pool: Pool; driver: FakeDriver; clock: FakeClock } {
    const driver = new FakeDriver();
    const clock = new FakeClock();
    const pool = createPool({
      db: [{ ...A, query_timeout: 0 }],
      groups,
      driver,
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      ...extra,
    }, { clock });
    const made = { pool, driver, clock };
    pools.push(made);
    return made;
  }

  /** The pool still works and holds nothing. */
  async function assertHealthy(pool: Pool, group: string): Promise<void> {
    assert.equal(
      await pool.withHandler(group, async (db) => (await db.query("SELECT $1", [7])).rows[0].value),
      7,
    );
    assert.equal(pool.stats().groups[group].leased, 0);
  }

  afterEach(async () => {
    for (const { pool, driver, clock } of pools) {
      for (const list of driver.hanging.values()) for (const resume of list) resume();
      driver.hanging.clear();
      const ending = pool.end();
      clock.advance(1_000_000);
      await ending;
      await settle();
      assert.equal(driver.open.size, 0, "sessions left open");
    }
    pools = [];
  });

  it(
    "withHandler() never reports success without COMMIT when its signal fires right after fn returns",
    async () => {
      // Model: with(hold, signal) → finish(return, abortAfter: 1). Either outcome is
      // honest — committed and resolved, or rolled back and rejected — but not a mix.
      for (let delay = 0; delay <= 6; delay++) {
        const { pool, driver } = setup({ tx: { connection_count: 1, autocommit: false } });
        const ac = new AbortController();
        const reason = new Error("late abort");
        const outcome = await pool.withHandler("tx", async (db) => {
          await db.query("INSERT INTO t VALUES (1)");
          let later = Promise.resolve();
          for (let i = 0; i < delay; i++) later = later.then(() => {});
          later.then(() => ac.abort(reason));
          return "done";
        }, { signal: ac.signal }).then((v) => ({ ok: true, v }), (e) => ({ ok: false, e }));
        const committed = driver.queries.some((q) => q.text === "COMMIT");
        if (outcome.ok) {
          assert.ok(committed, `delay ${delay}: resolved, but COMMIT was never sent`);
        } else {
          assert.equal((outcome as { e: unknown }).e, reason, `delay ${delay}`);
          assert.ok(!committed, `delay ${delay}: rejected, but COMMIT was sent`);
        }
        await assertHealthy(pool, "tx");
      }
    },
  );

  it(
    "lease() rejects with AcquireTimeoutError once timeoutMs passes while it opens a connection",
    async () => {
      // Model: stall(a) → lease(timeoutMs 100) → advance(100): the call still waits.
      const { pool, driver, clock } = setup({ g: { connection_count: 1 } });
      driver.hanging.set("a:5432", []);
      let outcome: unknown = "pending";
      pool.lease("g", { timeoutMs: 100 }).then((h) => (outcome = h), (e) => (outcome = e));
      await settle();
      clock.advance(100);
      await settle();
      assert.ok(outcome instanceof AcquireTimeoutError, `got ${String(outcome)}`);
      // The connect completes later: its session goes to the pool, not to a caller that gave up.
      for (const resume of driver.hanging.get("a:5432")!) resume();
      driver.hanging.delete("a:5432");
      await settle();
      await assertHealthy(pool, "g");
    },
  );

  it(
    "lease() rejects with the signal's reason at once when it aborts while a connection is opened",
    async () => {
      // Model: stall(a) → with(return, signal) → abort: the call still waits.
      const { pool, driver } = setup({ g: { connection_count: 1 } });
      driver.hanging.set("a:5432", []);
      const ac = new AbortController();
      let outcome: unknown = "pending";
      let ran = false;
      pool.withHandler("g", () => (ran = true), { signal: ac.signal }).then(
        (v) => (outcome = v),
        (e) => (outcome = e),
      );
      await settle();
      const reason = new Error("caller gave up");
      ac.abort(reason);
      await settle();
      assert.equal(outcome, reason);
      for (const resume of driver.hanging.get("a:5432")!) resume();
      driver.hanging.delete("a:5432");
      await settle();
      assert.equal(ran, false, "fn ran after its caller gave up");
      await assertHealthy(pool, "g");
    },
  );

  it(
    "end() rejects a lease that is still opening a connection with PoolClosedError",
    async () => {
      // Model: stall(a) → with(return) → end: the call still waits after end().
      const { pool, driver } = setup({ g: { connection_count: 1 } });
      driver.hanging.set("a:5432", []);
      let outcome: unknown = "pending";
      pool.withHandler("g", () => 1).then((v) => (outcome = v), (e) => (outcome = e));
      await settle();
      const ending = pool.end();
      await settle();
      assert.ok(outcome instanceof PoolClosedError, `got ${String(outcome)}`);
      for (const resume of driver.hanging.get("a:5432")!) resume();
      driver.hanging.delete("a:5432");
      await ending;
      await settle();
      assert.equal(driver.open.size, 0);
    },
  );

  it(
    "a caller whose idle connection fails its ping keeps its place ahead of later callers",
    async () => {
      // Model: with(return) → advance(1) → zombie → burst(2 leases): the second
      // caller is served while the first still waits.
      const { pool, driver, clock } = setup(
        { g: { connection_count: 1, autocommit: false } },
        { pingAfterIdleMs: 0 },
      );
      await pool.withHandler("g", (db) => db.query("SELECT 1"));
      clock.advance(1);
      const zombie = driver.sessions[0];
      driver.respond = (text, params, s) => {
        if (s === zombie) {
          s.kill();
          throw new Error("connection reset by peer");
        }
        return defaultResponder(text, params, s);
      };
      const served: string[] = [];
      const first = pool.lease("g").then((h) => (served.push("first"), h));
      const second = pool.lease("g").then((h) => (served.push("second"), h));
      await settle();
      assert.deepEqual(served, ["first"]);
      await (await first).release();
      await (await second).release();
      await assertHealthy(pool, "g");
    },
  );
});
