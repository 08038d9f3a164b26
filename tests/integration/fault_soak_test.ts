/**
 * Fault soak against real PostgreSQL (issue 5): thousands of `withHandler`
 * calls at 200-way concurrency over 10 connections spread over two private
 * servers, while backends of the pool are killed with `pg_terminate_backend`
 * every ~100 ms and, in the second variant, one server is also restarted.
 *
 * Checked for every driver the runtime has (postgres.js everywhere, Bun.SQL
 * on Bun):
 * - every call settles (a per-call watchdog fails the test after 30 s) and
 *   either succeeds or rejects with a typed `PoolError` (or the caller's own
 *   error, unchanged);
 * - afterwards no connection is leased or waited for, and the servers hold
 *   no more sessions of the pool (found by `application_name`) than the
 *   groups' `connection_count` sum;
 * - the transactional group's rows, per server, are exactly those of the
 *   calls that resolved (on the port they returned), possibly plus those of
 *   `CommitUnknownError` calls (on the endpoint the error names), never of a
 *   call that failed any other way; no row is doubled;
 * - `end()` leaves no session.
 *
 * The storm variant (issue 9, item 0) runs for every adapter the runtime can
 * load (node-postgres too) for `PGDBPOOL_STORM_MS` ms (default 3000), and on
 * (20 s at most) until 100 calls succeeded, however loaded the machine: two
 * random sessions per server killed every ~100 ms, and every session caught
 * while it authenticates (`state = 'starting'`), so connects fail at every
 * stage; a watch fails it on any unhandled rejection or uncaught exception,
 * and it fails if it never caught a session authenticating.
 *
 * Each variant runs `PGDBPOOL_SOAK_MS` ms (default 2500) and prints one
 * summary line. An unhandled rejection anywhere (pool, driver) fails the
 * running test: both runners do that by themselves.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import postgres from "postgres";
import { CommitUnknownError, createPool, type Pool, PoolError, type PoolStats } from "../../mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { watchEscapes } from "../support/escapes.ts";
import { adminQuery, type PrivateTestServer, startPrivateServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type DriverCase, runtimeDrivers } from "../support/drivers.ts";

const SOAK_MS = Number(process.env.PGDBPOOL_SOAK_MS || 2500);
/** Longest the restart variant runs on after the restart, waiting for the server to serve a call. */
const RESTART_GRACE_MS = 15_000;
const CONCURRENCY = 200;
const TX_CONNECTIONS = 7;
const AC_CONNECTIONS = 3;
const CONNECTION_BUDGET = TX_CONNECTIONS + AC_CONNECTIONS;
/** Share of calls that go to the transactional group. */
const TX_SHARE = 0.85;
/** A call that has not settled after this long is a hang: the test fails. */
const WATCHDOG_MS = 30_000;
/** withHandler's acquire timeout. */
const ACQUIRE_TIMEOUT_MS = 5_000;
const KILL_EVERY_MS = 100;
const RESTART_PAUSE_MS = 300;
const TABLE = "soak_rows";
/**
 * How a call may fail in this soak: its session was lost (before or during
 * COMMIT), no endpoint could be reached or no connection came free in time,
 * or the caller's own error. Anything else (a `QueryError` for a killed
 * session, say) is reported.
 */
const EXPECTED_ERRORS = new Set([
  "ConnectionError",
  "CommitUnknownError",
  "OfflineError",
  "AcquireTimeoutError",
  "CallerError",
]);

const drivers = runtimeDrivers({ nodePostgres: false });

/** The storm variant covers every adapter the runtime can load: escapes are per driver. */
const stormDrivers: DriverCase[] = [
  ...drivers,
  { name: "node-postgres", make: () => nodePostgres() },
];

/**
 * - `kill`: established sessions of the pool killed every ~100 ms;
 * - `restart`: the same, and one server restarted;
 * - `storm`: sessions killed at every stage, while they authenticate too
 *   (`state = 'starting'`), with a watch that fails the test on any
 *   unhandled rejection or uncaught exception (issue 9, item 0).
 */
type Variant = "kill" | "restart" | "storm";

/** How long the storm variant runs. */
const STORM_MS = Number(process.env.PGDBPOOL_STORM_MS || 3000);
/** Calls that must succeed for a soak to count as having made progress. */
const MIN_OK_CALLS = 100;
/**
 * Longest the storm runs on past `STORM_MS` until `MIN_OK_CALLS` succeeded: on
 * a loaded machine few handshakes get through its hunting windows, and the
 * check is that the pool makes progress, not how fast.
 */
const STORM_GRACE_MS = 20_000;
/** Pause between two looks of the storm for sessions still authenticating. */
const STORM_AUTH_EVERY_MS = 2;
/** The storm's hunting windows (sessions killed while authenticating), and the quiet ones between. */
const STORM_HUNT_MS = 60;
const STORM_QUIET_MS = 240;

/** The caller's own error, thrown after a successful insert: must pass through unchanged and roll back. */
class CallerError extends Error {
  constructor() {
    super("the caller's own error");
    this.name = "CallerError";
  }
}

interface Call {
  readonly id: number;
  readonly group: "tx" | "ac";
  readonly kind: "plain" | "slow" | "throw";
  status: "pending" | "ok" | "error" | "hang";
  /** The port the call wrote to (ok calls), or the endpoint's port a CommitUnknownError names. */
  port?: number;
  /** Error class name (for PoolError subclasses), `CallerError`, or `untyped`. */
  errorName?: string;
  error?: unknown;
  readonly startedAt: number;
  settledAt?: number;
  /** The CallerError this call's fn threw. */
  thrown?: CallerError;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function portOfLabel(label: string): number | undefined {
  const m = /:(\d+)$/.exec(label);
  return m ? Number(m[1]) : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error
      ? ` (cause: ${err.cause.name}: ${err.cause.message})`
      : "";
    return `${err.constructor.name}/${err.name}: ${err.message}${cause}`;
  }
  return `${typeof err}: ${String(err)}`;
}

describe("fault soak against real PostgreSQL", () => {
  const servers: PrivateTestServer[] = [];
  const pools: Pool[] = [];
  let nextId = 0;
  let lastSoak: Promise<unknown> = Promise.resolve();

  before(async () => {
    const started = await Promise.allSettled([startPrivateServer(), startPrivateServer()]);
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await Promise.all(servers.map((s) =>
      adminQuery(
        s,
        `CREATE TABLE ${TABLE} (run text NOT NULL, id int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
      )
    ));
  });

  after(async () => {
    await lastSoak;
    await Promise.allSettled(pools.map((p) => p.end()));
    await Promise.allSettled(servers.map((s) => s.dispose()));
  });

  function endpoint(s: PrivateTestServer, app: string) {
    return endpointOf(s, { application_name: app, connect_timeout: 2 });
  }

  /** Sessions of `app` per server (`-1` for a server that cannot be asked). */
  async function sessions(app: string): Promise<number[]> {
    return await Promise.all(servers.map(async (s) => {
      try {
        const rows = await adminQuery(
          s,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        return rows[0].n as number;
      } catch {
        return -1;
      }
    }));
  }

  /** Polls until `ok(counts)` or ~3 s passed (closed sessions linger for a moment); returns the last counts. */
  async function pollSessions(app: string, ok: (n: number[]) => boolean): Promise<number[]> {
    let n: number[] = [];
    for (let i = 0; i < 60; i++) {
      n = await sessions(app);
      if (n.every((x) => x >= 0) && ok(n)) break;
      await sleep(50);
    }
    return n;
  }

  for (const driver of stormDrivers) {
    it(
      `${driver.name}: backends killed at every stage, authenticating ones too: nothing escapes, every call settles typed, rows match`,
      { timeout: STORM_MS + 2 * WATCHDOG_MS + 60_000 },
      async () => {
        const mine = lastSoak.then(() => soak(driver, "storm"));
        lastSoak = mine.catch(() => {});
        await mine;
      },
    );
  }

  for (const driver of drivers) {
    for (const variant of ["kill", "restart"] as Variant[]) {
      it(
        `${driver.name}: ${
          variant === "kill"
            ? "backends killed every ~100 ms"
            : "backends killed and one server restarted"
        }: every call settles typed, nothing leaks, rows match`,
        { timeout: SOAK_MS + 2 * WATCHDOG_MS + 60_000 },
        async () => {
          // One soak at a time, even when a runner gave up on the previous test
          // (an unhandled rejection fails the running test at once while its soak goes on).
          const mine = lastSoak.then(() => soak(driver, variant));
          lastSoak = mine.catch(() => {});
          await mine;
        },
      );
    }
  }

  async function soak(driver: DriverCase, variant: Variant) {
    const run = `${driver.name}_${variant}_${Date.now().toString(36)}`.replace(/\W/g, "_");
    const app = `soak_${run}`;
    const pool = createPool({
      db: servers.map((s) => endpoint(s, app)),
      groups: {
        tx: { connection_count: TX_CONNECTIONS, autocommit: false },
        ac: { connection_count: AC_CONNECTIONS },
      },
      driver: driver.make(),
      acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      reconnectBaseMs: 50,
      reconnectMaxMs: 500,
      pingAfterIdleMs: 200,
    });
    pools.push(pool);

    const calls: Call[] = [];
    const serverUp = servers.map(() => true);
    let killed = 0;
    let restartDoneAt = Infinity;
    let okOnRestarted = 0;
    const restartIndex = 0;
    const started = performance.now();
    let deadline = started + (variant === "storm" ? STORM_MS : SOAK_MS);
    const escapes = variant === "storm" ? watchEscapes() : undefined;
    let killedStarting = 0;
    let okSoFar = 0;
    let soaking = true;
    // The restart variant runs on until the server has been back for a while.
    let restartSettled = variant !== "restart";

    async function oneCall(): Promise<void> {
      const group = Math.random() < TX_SHARE ? "tx" : "ac";
      const r = Math.random();
      const kind: Call["kind"] = group === "ac"
        ? "plain"
        : r < 0.05
        ? "throw"
        : r < 0.3
        ? "slow"
        : "plain";
      const call: Call = {
        id: ++nextId,
        group,
        kind,
        status: "pending",
        startedAt: performance.now(),
      };
      calls.push(call);
      const work = pool.withHandler(group, async (db) => {
        const { rows } = group === "ac"
          ? await db.query<{ port: number }>("SELECT inet_server_port() AS port")
          : await db.query<{ port: number }>(
            `INSERT INTO ${TABLE} (run, id) VALUES ($1, $2) RETURNING inet_server_port() AS port`,
            [run, call.id],
          );
        if (kind === "slow") await db.query("SELECT pg_sleep(0.002)");
        if (kind === "throw") throw (call.thrown = new CallerError());
        const port = Number(rows[0].port);
        if (port !== db.endpoint.port) {
          throw new Error(`db.endpoint.port ${db.endpoint.port} but the server says ${port}`);
        }
        return port;
      }, { timeoutMs: ACQUIRE_TIMEOUT_MS });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const watchdog = new Promise<"hang">((resolve) => {
        timer = setTimeout(() => resolve("hang"), WATCHDOG_MS);
      });
      try {
        const out = await Promise.race([work, watchdog]);
        if (out === "hang") {
          call.status = "hang";
          work.catch(() => {}); // should it settle after all, nobody is listening
        } else {
          call.status = "ok";
          okSoFar++;
          call.port = out;
          if (out === servers[restartIndex].port && call.startedAt > restartDoneAt) {
            okOnRestarted++;
          }
        }
      } catch (err) {
        call.status = "error";
        call.error = err;
        if (err instanceof CallerError && err === call.thrown) call.errorName = "CallerError";
        else if (err instanceof PoolError) call.errorName = err.constructor.name;
        else call.errorName = "untyped";
        if (err instanceof CommitUnknownError) call.port = portOfLabel(err.endpoint);
      } finally {
        clearTimeout(timer);
        call.settledAt = performance.now();
      }
    }

    // On a loaded machine the restarted server may take a while to get
    // sessions again (its back-off must pass and slots must free up): the
    // restart variant runs on, bounded, until it has served a call.
    const waitingForRestarted = () =>
      variant === "restart" && okOnRestarted === 0 &&
      performance.now() < restartDoneAt + RESTART_GRACE_MS;
    // The storm runs on, bounded, until it has made progress.
    const stormShort = () =>
      variant === "storm" && okSoFar < MIN_OK_CALLS &&
      performance.now() < started + STORM_MS + STORM_GRACE_MS;
    async function worker(): Promise<void> {
      while (
        performance.now() < deadline || !restartSettled || waitingForRestarted() || stormShort()
      ) {
        await oneCall();
      }
    }

    async function killer(): Promise<void> {
      while (soaking) {
        await sleep(KILL_EVERY_MS * (0.5 + Math.random()));
        if (!soaking) break;
        await Promise.all(servers.map(async (s, i) => {
          if (!serverUp[i]) return;
          try {
            const rows = await adminQuery(
              s,
              `SELECT pg_terminate_backend(pid) AS ok FROM (
                 SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY random() LIMIT $2
               ) k`,
              [app, 1 + Math.floor(Math.random() * 2)],
            );
            killed += rows.filter((row) => row.ok === true).length;
          } catch {
            // The server is going down or coming up.
          }
        }));
      }
    }

    async function restarter(): Promise<void> {
      try {
        await sleep(SOAK_MS * 0.25);
        const s = servers[restartIndex];
        serverUp[restartIndex] = false;
        await s.stop();
        await sleep(RESTART_PAUSE_MS);
        await s.start();
        serverUp[restartIndex] = true;
        restartDoneAt = performance.now();
        deadline = Math.max(deadline, restartDoneAt + Math.max(1000, SOAK_MS * 0.4));
      } finally {
        restartSettled = true;
      }
    }

    /**
     * Storm only: every ~100 ms two random sessions of the pool per server,
     * and in between, as often as it can find them, every session still
     * authenticating. Over one standing session per server: a fresh one per
     * poll would spend the window on its own authentication (and be killed).
     */
    async function stormKiller(): Promise<void> {
      const clients = servers.map((s) =>
        postgres(s.url, { max: 1, idle_timeout: 0, max_lifetime: 0, onnotice: () => {} })
      );
      const kill = async (i: number, sql: string, params: unknown[]) => {
        try {
          // deno-lint-ignore no-explicit-any
          const rows = await clients[i].unsafe(sql, params as any[]);
          killed += rows.length;
          killedStarting += rows.filter((r) => r.starting === true).length;
        } catch { /* the server is busy: go on */ }
      };
      try {
        await Promise.all(servers.map(async (_, i) => {
          let nextRandom = performance.now();
          while (soaking) {
            // Hunting windows alternate with quiet ones: sessions killed while
            // they authenticate, yet some get through and the soak makes progress.
            const hunting = performance.now() % (STORM_HUNT_MS + STORM_QUIET_MS) < STORM_HUNT_MS;
            if (hunting) {
              await kill(
                i,
                // MATERIALIZED: the filter runs before any kill (the planner may
                // otherwise call pg_terminate_backend on this very session).
                `WITH k AS MATERIALIZED (
                 SELECT pid FROM pg_stat_activity
                 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                   AND state = 'starting'
               ) SELECT pid, true AS starting FROM k WHERE pg_terminate_backend(pid)`,
                [],
              );
            }
            if (performance.now() >= nextRandom) {
              nextRandom += KILL_EVERY_MS;
              await kill(
                i,
                `WITH k AS MATERIALIZED (
                   SELECT pid, state = 'starting' AS starting FROM pg_stat_activity
                   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                     AND (application_name = $1 OR state = 'starting')
                   ORDER BY random() LIMIT 2
                 ) SELECT pid, starting FROM k WHERE pg_terminate_backend(pid)`,
                [app],
              );
            }
            await sleep(STORM_AUTH_EVERY_MS);
          }
        }));
      } finally {
        await Promise.allSettled(clients.map((c) => c.end({ timeout: 1 })));
      }
    }

    const killing = variant === "storm" ? stormKiller() : killer();
    const restarting = variant === "restart" ? restarter() : Promise.resolve();
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      soaking = false;
      await killing;
      await restarting;
    }
    const elapsed = performance.now() - started;

    // ---- outcomes -------------------------------------------------------
    const byName = new Map<string, number>();
    for (const c of calls) {
      const key = c.status === "ok" ? "ok" : c.status === "hang" ? "HANG" : c.errorName!;
      byName.set(key, (byName.get(key) ?? 0) + 1);
    }
    const okCalls = calls.filter((c) => c.status === "ok").length;
    // The first error of a kind, to tell why a soak made little progress.
    const firstOf = (name: string) => {
      const c = calls.find((c) => c.errorName === name);
      return c ? `; first ${name}: ${describeError(c.error).slice(0, 400)}` : "";
    };

    // ---- pool state right after the soak --------------------------------
    const statsAfter: PoolStats = pool.stats();
    // Creations started by a release while callers still waited may still be in flight.
    for (let i = 0; i < 60; i++) {
      const g = pool.stats().groups;
      if (g.tx.pending === 0 && g.ac.pending === 0) break;
      await sleep(50);
    }
    const statsSettled = pool.stats();
    const openByPool = statsSettled.groups.tx.total + statsSettled.groups.ac.total;
    const sessionsBefore = await pollSessions(
      app,
      (n) => n.reduce((a, b) => a + b, 0) <= openByPool,
    );

    // ---- rows per server ------------------------------------------------
    const byId = new Map<number, Call>();
    for (const c of calls) byId.set(c.id, c);
    const found = new Map<number, number[]>(); // id -> ports it was found on (with repeats)
    for (const s of servers) {
      const rows = await adminQuery(
        s,
        `SELECT id, count(*)::int AS n FROM ${TABLE} WHERE run = $1 GROUP BY id`,
        [run],
      );
      for (const row of rows) {
        const list = found.get(row.id as number) ?? [];
        for (let k = 0; k < (row.n as number); k++) list.push(s.port);
        found.set(row.id as number, list);
      }
    }
    const problems: string[] = [];
    const sample = (what: string, c: Call | undefined, id: number, where: number[] | undefined) =>
      `${what}: call ${id} (${
        c
          ? `${c.group}/${c.kind} ${c.status}${c.port ? ` port ${c.port}` : ""}${
            c.error ? ` ${describeError(c.error)}` : ""
          }`
          : "unknown call"
      }) rows on ${JSON.stringify(where ?? [])}`;
    const lost: string[] = [];
    const doubled: string[] = [];
    const phantom: string[] = [];
    const misplaced: string[] = [];
    let cuCommitted = 0;
    let cuNot = 0;
    for (const [id, where] of found) {
      const c = byId.get(id);
      if (where.length > 1) doubled.push(sample("doubled", c, id, where));
      if (!c || c.group !== "tx") {
        phantom.push(sample("row of no transactional call", c, id, where));
      }
    }
    for (const c of calls) {
      if (c.group !== "tx" || c.status === "hang" || c.status === "pending") continue;
      const where = found.get(c.id);
      if (c.status === "ok") {
        if (!where) lost.push(sample("lost", c, c.id, where));
        else if (where.some((p) => p !== c.port)) {
          misplaced.push(sample("misplaced", c, c.id, where));
        }
      } else if (c.error instanceof CommitUnknownError) {
        if (where) {
          cuCommitted++;
          if (where.some((p) => p !== c.port)) misplaced.push(sample("misplaced", c, c.id, where));
        } else cuNot++;
      } else if (where) {
        phantom.push(sample("row of a failed call", c, c.id, where));
      }
    }

    // ---- end() ----------------------------------------------------------
    await pool.end();
    const statsEnded = pool.stats();
    const sessionsAfterEnd = await pollSessions(app, (n) => n.every((x) => x === 0));

    const errorCounts = [...byName].filter(([k]) => k !== "ok").sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`).join(" ");
    const okAfterRestartOnRestarted =
      calls.filter((c) =>
        c.status === "ok" && c.port === servers[restartIndex].port && c.settledAt! > restartDoneAt
      ).length;
    console.log(
      `soak ${driver.name}/${variant}: ${calls.length} calls in ${
        Math.round(elapsed)
      } ms, ok=${okCalls}` +
        ` errors: ${errorCounts || "none"}; commit-unknown committed=${cuCommitted} not=${cuNot};` +
        ` killed=${killed}${variant === "storm" ? ` (authenticating: ${killedStarting})` : ""}${
          variant === "restart"
            ? `, ok on restarted server after restart=${okAfterRestartOnRestarted}`
            : ""
        };` +
        ` sessions after soak=${
          JSON.stringify(sessionsBefore)
        } (pool open ${openByPool}), after end=${JSON.stringify(sessionsAfterEnd)}${
          firstOf("OfflineError")
        }${firstOf("AcquireTimeoutError")}`,
    );

    // ---- assertions -----------------------------------------------------
    const hangs = calls.filter((c) => c.status === "hang");
    if (hangs.length) {
      problems.push(
        `${hangs.length} call(s) did not settle within ${WATCHDOG_MS} ms (first: ${
          hangs[0].group
        }/${hangs[0].kind}); stats: ${JSON.stringify(pool.stats().groups)}`,
      );
    }
    const untyped = calls.filter((c) => c.errorName === "untyped");
    if (untyped.length) {
      const kinds = new Map<string, number>();
      for (const c of untyped) {
        const k = describeError(c.error).slice(0, 200);
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      problems.push(
        `${untyped.length} call(s) rejected with an untyped error: ${
          [...kinds].map(([k, v]) => `${v}x ${k}`).join(" | ")
        }`,
      );
    }
    // With one server up at all times, these are the only ways a call may fail here.
    const unexpected = calls.filter((c) =>
      c.status === "error" && c.errorName !== "untyped" && !EXPECTED_ERRORS.has(c.errorName!)
    );
    if (unexpected.length) {
      const kinds = new Map<string, number>();
      for (const c of unexpected) {
        const code = (c.error as { code?: unknown }).code;
        const k = `${describeError(c.error).slice(0, 200)}${code ? ` [code ${code}]` : ""}`;
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      problems.push(
        `${unexpected.length} call(s) failed with an error a lost session, a down server or the caller does not explain: ${
          [...kinds].map(([k, v]) => `${v}x ${k}`).join(" | ")
        }`,
      );
    }
    for (const [name, g] of Object.entries(statsAfter.groups)) {
      if (g.leased !== 0 || g.waiting !== 0) {
        problems.push(
          `group ${name} after the soak: leased=${g.leased} waiting=${g.waiting} (${
            JSON.stringify(g)
          })`,
        );
      }
    }
    const { tx, ac } = statsSettled.groups;
    if (tx.total > TX_CONNECTIONS || ac.total > AC_CONNECTIONS) {
      problems.push(`groups over connection_count: tx.total=${tx.total} ac.total=${ac.total}`);
    }
    const endpointConnections = statsSettled.endpoints.reduce((a, e) => a + e.connections, 0);
    if (endpointConnections !== openByPool) {
      problems.push(
        `endpoints count ${endpointConnections} connections but the groups hold ${openByPool} (${
          JSON.stringify(statsSettled.endpoints.map((e) => e.connections))
        })`,
      );
    }
    const onServers = sessionsBefore.reduce((a, b) => a + b, 0);
    if (sessionsBefore.some((n) => n < 0)) {
      problems.push(`could not count sessions: ${sessionsBefore}`);
    }
    if (onServers > CONNECTION_BUDGET || onServers > openByPool) {
      problems.push(
        `servers hold ${onServers} sessions of the pool (${sessionsBefore}) after the soak; budget ${CONNECTION_BUDGET}, pool open ${openByPool}`,
      );
    }
    for (
      const [what, list] of [["lost", lost], ["doubled", doubled], ["phantom", phantom], [
        "misplaced",
        misplaced,
      ]] as const
    ) {
      if (list.length) {
        problems.push(`${list.length} ${what} row(s); e.g. ${list.slice(0, 3).join("; ")}`);
      }
    }
    for (const [name, g] of Object.entries(statsEnded.groups)) {
      if (g.total !== 0 || g.leased !== 0) {
        problems.push(`group ${name} after end(): ${JSON.stringify(g)}`);
      }
    }
    if (sessionsAfterEnd.some((n) => n !== 0)) {
      problems.push(`sessions left after end(): ${sessionsAfterEnd}`);
    }
    if (okCalls < MIN_OK_CALLS) {
      problems.push(`only ${okCalls} calls succeeded: the soak made no real progress`);
    }
    if (killed === 0) problems.push("no backend was killed: the soak injected no fault");
    if (escapes) {
      // Late escapes (a driver's retry timer) land after the calls settled: give them a moment.
      await sleep(500);
      escapes.stop();
      if (escapes.escaped.length) {
        const kinds = new Map<string, number>();
        for (const e of escapes.escaped) {
          const code = (e as { code?: unknown })?.code;
          const k = `${describeError(e).slice(0, 160)}${code ? ` [code ${code}]` : ""}`;
          kinds.set(k, (kinds.get(k) ?? 0) + 1);
        }
        problems.push(
          `${escapes.escaped.length} error(s) escaped as unhandled rejections or uncaught exceptions: ${
            [...kinds].map(([k, v]) => `${v}x ${k}`).join(" | ")
          }`,
        );
      }
      if (killedStarting === 0) {
        problems.push("no session was killed while authenticating: the storm missed that stage");
      }
    }
    if (variant === "restart" && okAfterRestartOnRestarted === 0) {
      problems.push("no call succeeded on the restarted server after it came back");
    }
    assert.deepEqual(problems, [], `soak ${driver.name}/${variant} found problems`);
  }
});
