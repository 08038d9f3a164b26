/**
 * How long `pool.end()` takes, per driver of this runtime and per situation,
 * against a real embedded PostgreSQL server: the time past the work in flight
 * is what the end path itself costs. Also counts the pool's backends still in
 * `pg_stat_activity` right after `end()` resolved.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/end_latency.ts [--reps=3]
 * node_modules/.bin/bun bench/end_latency.ts [--reps=3]
 * ```
 *
 * `--only=<text>` runs the situations whose name contains it.
 *
 * Under Deno, deno-postgres joins when `PGDBPOOL_DENO_POSTGRES` names a local
 * copy (README: Testing the deno-postgres adapter; pass its `--import-map`).
 * The server comes from `PGDBPOOL_TEST_URLS` when set, else one is started.
 *
 * @module
 */
import { createPool, type Pool, type PoolConfigInput } from "../mod.ts";
import { startProxy } from "../src/testing/mod.ts";
import { runtimeDrivers, withDenoPostgres } from "../tests/support/drivers.ts";
import { endpointOf } from "../tests/support/params.ts";
import { adminQuery, sharedServers, type TestServer } from "../tests/support/servers.ts";
import { disposeAllServers } from "../tests/support/servers.ts";
import { median, parseArgs, runtime, scriptArgs } from "./lib.ts";
import process from "node:process";

// Short, so that the situations where a handler never comes back stay quick.
const END_TIMEOUT_MS = 500;

interface Setup {
  pool: Pool;
  /** Settles once whatever was in flight settled (never rejects). */
  inFlight: Promise<unknown>;
  /** Undoes what the situation set up beside the pool. */
  cleanup?: () => Promise<void>;
  /** A handler never comes back: end() cannot be quicker than endTimeoutMs. */
  holds?: true;
}

type Situation = (
  make: (groups: PoolConfigInput["groups"], on?: { host: string; port: number }) => Pool,
  server: TestServer,
  app: string,
) => Promise<Setup>;

const settled = (p: Promise<unknown>) => p.then(() => {}, () => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const one = { default: { connection_count: 2 } };
const kept: unknown[] = [];

const situations: Record<string, Situation> = {
  "idle pool": async (make) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    return { pool, inFlight: Promise.resolve() };
  },
  "leased, idle (never released)": async (make) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    // Kept: a handler dropped unreleased is reclaimed once collected.
    kept.push(await pool.lease("default"));
    return { pool, inFlight: Promise.resolve(), holds: true };
  },
  "SELECT 1 in flight": async (make) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    return { pool, inFlight: settled(pool.query("SELECT 1")) };
  },
  "SELECT 1 while the first session opens": (make) => {
    const pool = make(one);
    return Promise.resolve({ pool, inFlight: settled(pool.query("SELECT 1")) });
  },
  "SELECT 1 after 1.1 s idle (ping first)": async (make) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    await sleep(1100);
    return { pool, inFlight: settled(pool.query("SELECT 1")) };
  },
  "pg_sleep(0.3) in flight": async (make) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    const inFlight = settled(pool.query("SELECT pg_sleep(0.3)"));
    await sleep(20);
    return { pool, inFlight };
  },
  "pg_sleep(5) aborted by its caller just before": async (make) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    const abort = new AbortController();
    const call = settled(pool.query("SELECT pg_sleep(5)", [], { signal: abort.signal }));
    await sleep(50);
    abort.abort();
    await call;
    return { pool, inFlight: Promise.resolve() };
  },
  "pipelined, 10 queries in flight": async (make) => {
    const pool = make({ default: { connection_count: 2, pipeline: true } });
    await pool.query("SELECT 1");
    const calls = Array.from({ length: 10 }, () => settled(pool.query("SELECT pg_sleep(0.05)")));
    return { pool, inFlight: Promise.all(calls) };
  },
  "listen active": async (make) => {
    const pool = make(one);
    await pool.listen("end_latency", () => {});
    return { pool, inFlight: Promise.resolve() };
  },
  "server stalled, query in flight": async (make, server) => {
    const proxy = await startProxy({ target: server });
    const pool = make(one, proxy);
    await pool.query("SELECT 1");
    proxy.stall();
    return {
      pool,
      inFlight: settled(pool.query("SELECT 1")),
      cleanup: () => proxy.close(),
      holds: true,
    };
  },
  "server stalled, idle": async (make, server) => {
    const proxy = await startProxy({ target: server });
    const pool = make(one, proxy);
    await pool.query("SELECT 1");
    proxy.stall();
    return { pool, inFlight: Promise.resolve(), cleanup: () => proxy.close() };
  },
  "backend stopped (SIGSTOP), idle": async (make, server, app) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    return { pool, inFlight: Promise.resolve(), cleanup: await stopBackends(server, app) };
  },
  "backend stopped (SIGSTOP), query in flight": async (make, server, app) => {
    const pool = make(one);
    await pool.query("SELECT 1");
    const cleanup = await stopBackends(server, app);
    return { pool, inFlight: settled(pool.query("SELECT 1")), cleanup, holds: true };
  },
};

/** Stops the pool's backends (the server goes silent, its sockets stay open); returns the undo. */
async function stopBackends(server: TestServer, app: string): Promise<() => Promise<void>> {
  const rows = await adminQuery(
    server,
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
    [app],
  );
  const pids = rows.map((r) => r.pid as number);
  for (const pid of pids) process.kill(pid, "SIGSTOP");
  return () => {
    for (const pid of pids) process.kill(pid, "SIGCONT");
    return Promise.resolve();
  };
}

async function backendsOf(server: TestServer, app: string): Promise<number> {
  const rows = await adminQuery(
    server,
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
    [app],
  );
  return rows[0].n as number;
}

let seq = 0;

async function measure(
  makeDriver: () => import("../mod.ts").Driver,
  situation: Situation,
  server: TestServer,
): Promise<{ endMs: number; workMs: number; left: number }> {
  const app = `end_latency_${++seq}`;
  const make: Parameters<Situation>[0] = (groups, on) =>
    createPool({
      db: on
        ? { ...endpointOf(server, { application_name: app }), host: on.host, port: on.port }
        : endpointOf(server, { application_name: app }),
      groups,
      driver: makeDriver(),
      endTimeoutMs: END_TIMEOUT_MS,
    });
  const { pool, inFlight, cleanup, holds } = await situation(make, server, app);
  let workDone = NaN;
  const start = performance.now();
  void inFlight.then(() => (workDone = performance.now()));
  await pool.end();
  const end = performance.now();
  const left = await backendsOf(server, app);
  await cleanup?.();
  kept.length = 0;
  // The floor: the work in flight, or endTimeoutMs for a handler that never comes back.
  const workMs = holds
    ? END_TIMEOUT_MS
    : Number.isNaN(workDone)
    ? end - start
    : Math.max(0, workDone - start);
  return { endMs: end - start, workMs, left };
}

async function main(): Promise<void> {
  const args = parseArgs(scriptArgs());
  const reps = Number(args.reps ?? 3);
  const [server] = await sharedServers();
  const drivers = await withDenoPostgres(runtimeDrivers());
  const rows: string[] = [];
  for (const { name, make } of drivers) {
    for (const [label, situation] of Object.entries(situations)) {
      // Bun.SQL and deno-postgres deliver no notifications: pool.listen refuses them.
      if (label === "listen active" && make().notifications !== true) continue;
      if (args.only !== undefined && !label.includes(args.only)) continue;
      const ends: number[] = [];
      const works: number[] = [];
      let left = 0;
      for (let i = 0; i < reps; i++) {
        const r = await measure(make, situation, server);
        ends.push(r.endMs);
        works.push(r.workMs);
        left = Math.max(left, r.left);
      }
      rows.push(
        `| ${runtime} | ${name} | ${label} | ${median(ends).toFixed(0)} | ${
          median(works).toFixed(0)
        } | ${left} |`,
      );
      console.error(rows.at(-1));
    }
  }
  console.log(
    `end() latency, median of ${reps}, endTimeoutMs ${END_TIMEOUT_MS} (ms; "left": most backends still listed right after end())`,
  );
  console.log(
    "| runtime | driver | situation | end() | floor (work in flight or endTimeoutMs) | left |",
  );
  console.log(
    "| ------- | ------ | --------- | ----- | ---------------------------------------- | ---- |",
  );
  for (const row of rows) console.log(row);
  await disposeAllServers();
}

await main();
