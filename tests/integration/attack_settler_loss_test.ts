/**
 * Replies in flight when the session goes: backends terminated under many
 * callers, `pool.end()` mid-query, the network reset or gone silent (the
 * kit's proxy), on exclusive and pipelined groups. Every caller settles
 * once with a result or a typed error, nothing escapes as an unhandled
 * rejection, no session stays leased, and the pool serves again.
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  ConnectionError,
  createPool,
  OfflineError,
  type Pool,
  PoolError,
  QueryError,
} from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { appName, until } from "../support/backend_probe.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { caseBatch } from "../support/case_batch.ts";
import { type AdminSession, adminSession } from "../support/admin_session.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
// The first callers are in flight when the fault comes; the ones behind them are quick.
const nap = (i: number) => i < 6 ? 0.3 : 0.02;

/** The calls whose outcome is neither their own number nor an error of `allowed`'s kind. */
function problemsOf(
  outcomes: unknown[],
  allowed: abstract new (...a: never[]) => unknown,
): string[] {
  return outcomes
    .map((o, i) => [o, i] as const)
    .filter(([o, i]) => o !== i && !(o instanceof allowed))
    .map(([o, i]) => `${i}: ${inspect(o)}`);
}

/** Waits until every handler of the pool's group `g` came back. */
function leasedBack(pool: Pool): Promise<void> {
  return until(
    () => `leased back to 0: ${JSON.stringify(pool.stats().groups.g)}`,
    () => pool.stats().groups.g.leased === 0,
    { withinMs: 5_000 },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind = "autocommit" | "transactional" | "pipelined";
const KINDS: Kind[] = ["autocommit", "transactional", "pipelined"];

/**
 * A query once the pool has taken in the loss: a pipelined session whose
 * socket was reset with nothing in flight is known dead only when the
 * client reports the close, which may come a moment after the last failed
 * reply; a caller in that moment gets a ConnectionError, the next a new session.
 */
async function servesAgain(pool: Pool, n: number): Promise<unknown> {
  for (let attempt = 0;; attempt++) {
    try {
      return await pool.withHandler(
        "g",
        async (db) => (await db.query("SELECT $1::int AS n", [n])).rows[0].n,
      );
    } catch (err) {
      // Right after an outage the endpoint may be backed off for a moment (OfflineError at once).
      const passing = err instanceof ConnectionError || err instanceof OfflineError;
      if (!passing || attempt >= 30) throw err;
      await sleep(100);
    }
  }
}

for (const { name, make } of drivers) {
  describe(`replies in flight when the session goes, over ${name}`, () => {
    const proxies: TestProxy[] = [];
    // Polls and kills go through one kept session: a new one per poll starts too slowly on a
    // busy machine to catch the queries in flight.
    let admin: AdminSession | undefined;
    const scope = serverScope({
      async tearDown() {
        await Promise.all(proxies.map((p) => p.close()));
        await admin?.end();
      },
    });
    const adminSql = (sql: string, params: unknown[]) =>
      (admin ??= adminSession(scope.server)).query(sql, params);

    const makePool = (
      kind: Kind,
      sessions: number,
      db: unknown = endpointOf(scope.server),
      extra: Record<string, unknown> = {},
    ) => {
      const app = appName(`as_loss_${name}`);
      const endpoint = { ...(db as Record<string, unknown>), application_name: app };
      const pool = scope.keep(createPool({
        db: endpoint,
        groups: {
          g: {
            connection_count: sessions,
            autocommit: kind !== "transactional",
            pipeline: kind === "pipelined",
          },
        },
        driver: make(),
        pingAfterIdleMs: 0,
        endTimeoutMs: 2_000,
        ...extra,
        // deno-lint-ignore no-explicit-any
      } as any));
      return { pool, app };
    };

    /**
     * Waits until a backend of the pool named `app` runs `sql` (its text's start): the fault
     * then lands mid-query however long the pool took to get there (the cases run at once).
     */
    const running = (app: string, sql: string) =>
      until(`a backend of ${app} running ${sql}`, async () => {
        const rows = await adminSql(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1
             AND state = 'active' AND query LIKE $2`,
          [app, `${sql}%`],
        );
        return Number(rows[0].n) > 0;
      }, { everyMs: 0 });

    /**
     * Terminates every backend of the pool named `app` (each case has its own) as soon as one
     * of them runs `sql`: in the same statement, so the kill lands mid-query.
     */
    const killAllWhenRunning = (app: string, sql: string) =>
      until(`a backend of ${app} running ${sql}, to kill`, async () => {
        const rows = await adminSql(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
            WHERE application_name = $1 AND EXISTS (
              SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'
                 AND query LIKE $2)`,
          [app, `${sql}%`],
        );
        return Number(rows[0].n) > 0;
      }, { everyMs: 0 });

    /** 40 callers over 3 sessions of a `kind` pool, every backend terminated mid-query. */
    async function killedUnderCallers(kind: Kind): Promise<void> {
      const { pool, app } = makePool(kind, 3);
      await withoutEscapes(async () => {
        // Open the sessions first, so the kill finds every one.
        await Promise.all(
          [0, 1, 2].map(() => pool.withHandler("g", (db) => db.query("SELECT pg_sleep(0.05)"))),
        );
        const calls = Array.from(
          { length: 40 },
          (_, i) =>
            pool.withHandler("g", (db) => db.query(`SELECT pg_sleep(${nap(i)}), ${i} AS n`))
              .then(
                (r) => (r.rows[0] as { n: number }).n,
                (err) => err,
              ),
        );
        await killAllWhenRunning(app, "SELECT pg_sleep(0.3)");
        const outcomes = await Promise.all(calls);
        const problems = problemsOf(outcomes, ConnectionError);
        assert.deepEqual(problems, []);
        assert.ok(outcomes.some((o) => o instanceof ConnectionError), "the kill hit someone");
        await leasedBack(pool);
        assert.equal(await servesAgain(pool, 0), 0);
        const again = await Promise.all(
          Array.from(
            { length: 10 },
            (_, i) =>
              pool.withHandler(
                "g",
                async (db) => (await db.query<{ n: number }>("SELECT $1::int AS n", [i])).rows[0].n,
              ),
          ),
        );
        assert.deepEqual(again, Array.from({ length: 10 }, (_, i) => i));
      }, 50);
    }

    /** `pool.end()` while 20 queries run on a `kind` pool. */
    async function endedUnderCallers(kind: Kind): Promise<void> {
      const { pool, app } = makePool(kind, 3);
      await withoutEscapes(async () => {
        const calls = Array.from(
          { length: 20 },
          (_, i) =>
            pool.withHandler("g", (db) => db.query(`SELECT pg_sleep(0.2), ${i} AS n`)).then(
              (r) => (r.rows[0] as { n: number }).n,
              (err) => err,
            ),
        );
        await sleep(100);
        await pool.end();
        const outcomes = await Promise.all(calls);
        const problems = problemsOf(outcomes, PoolError);
        assert.deepEqual(problems, [], "a result or a typed error, each");
        const left = await adminQuery(
          scope.server,
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1
             AND state <> 'active'`,
          [app],
        );
        assert.equal(left[0].n, 0, "no idle session left open after end()");
      }, 50);
    }

    /** The network reset under 20 callers of a `kind` pool, through a proxy of its own. */
    async function droppedUnderCallers(kind: Kind): Promise<void> {
      const proxy = await startProxy({ target: scope.server });
      proxies.push(proxy);
      const { pool, app } = makePool(
        kind,
        2,
        endpointOf(scope.server, { host: proxy.host, port: proxy.port }),
      );
      await withoutEscapes(async () => {
        await pool.withHandler("g", (db) => db.query("SELECT 1"));
        const calls = Array.from(
          { length: 20 },
          (_, i) =>
            pool.withHandler("g", (db) => db.query(`SELECT pg_sleep(${nap(i)}), ${i} AS n`))
              .then(
                (r) => (r.rows[0] as { n: number }).n,
                (err) => err,
              ),
        );
        await running(app, "SELECT pg_sleep(0.3)");
        proxy.drop();
        const outcomes = await Promise.all(calls);
        const problems = problemsOf(outcomes, PoolError);
        assert.deepEqual(problems, [], "a result or a typed error, each");
        assert.ok(
          outcomes.some((o) => o instanceof ConnectionError),
          `the drop hit someone: ${outcomes.map((o) => inspect(o)).join(", ")}`,
        );
        proxy.pass();
        await leasedBack(pool);
        assert.equal(await servesAgain(pool, 4), 4);
      }, 50);
    }

    /** The network gone silent under 10 callers, on a `kind` pool through a proxy of its own. */
    async function silentUnderCallers(kind: Kind): Promise<void> {
      const proxy = await startProxy({ target: scope.server });
      proxies.push(proxy);
      const { pool } = makePool(
        kind,
        2,
        // Replacements connect through the stalled proxy too: they give up after 1 s.
        endpointOf(scope.server, {
          host: proxy.host,
          port: proxy.port,
          query_timeout: 300,
          connect_timeout: 1,
        }),
        // The ping before use (pingAfterIdleMs 0) on a stalled session gives up after 2 s (5 s by
        // default): still after the replacements' connect timeout, as before.
        { pingTimeoutMs: 2_000 },
      );
      await pool.withHandler("g", (db) => db.query("SELECT 1"));
      proxy.stall();
      const calls = Array.from(
        { length: 10 },
        (_, i) =>
          pool.withHandler("g", (db) => db.query(`SELECT ${i} AS n`)).then(
            (r) => (r.rows[0] as { n: number }).n,
            (err) => err,
          ),
      );
      const outcomes = await Promise.all(calls);
      const problems = problemsOf(outcomes, PoolError);
      assert.deepEqual(problems, [], "a result or a typed error, each");
      assert.ok(outcomes.some((o) => o instanceof PoolError), "the stall ended someone");
      proxy.pass();
      await leasedBack(pool);
      assert.equal(await servesAgain(pool, 6), 6);
    }

    /** 50 callers on 2 pipelined sessions, failures among them, then a kill. */
    async function pipelinedFailuresThenKill(): Promise<void> {
      const { pool, app } = makePool("pipelined", 2);
      await withoutEscapes(async () => {
        const round = (text: (i: number) => string) =>
          Promise.all(
            Array.from(
              { length: 50 },
              (_, i) =>
                pool.withHandler("g", (db) => db.query(text(i))).then(
                  (r) => (r.rows[0] as { n: number }).n,
                  (err) => err,
                ),
            ),
          );
        const mixed = await round((i) => i % 5 === 2 ? "SELECT 1/0 AS n" : `SELECT ${i} AS n`);
        mixed.forEach((o, i) => {
          if (i % 5 === 2) {
            assert.ok(o instanceof QueryError && o.code === "22012", `${i}: ${inspect(o)}`);
          } else assert.equal(o, i);
        });
        const killed = round((i) => `SELECT pg_sleep(0.4), ${i} AS n`);
        await killAllWhenRunning(app, "SELECT pg_sleep(0.4)");
        const outcomes = await killed;
        const problems = problemsOf(outcomes, ConnectionError);
        assert.deepEqual(problems, []);
        assert.ok(outcomes.some((o) => o instanceof ConnectionError), "the kill hit someone");
        assert.equal(await servesAgain(pool, 0), 0);
        const after = await round((i) => `SELECT ${i} AS n`);
        assert.deepEqual(after, Array.from({ length: 50 }, (_, i) => i));
        assert.equal(pool.stats().groups.g.leased, 0);
      }, 50);
    }

    // The cases run together, each on its own pool (and proxy), its kills aimed at its own
    // pool's backends by application_name: their time is the server's sleeps, the sweep's and
    // the connect timeout's. Each test checks its own case, and that nothing escaped while any
    // ran; the first waits for all, so nothing runs on into the next tests.
    const cases: (readonly [string, () => Promise<void>])[] = [];
    // The silent networks first: they are the longest, mostly waiting on timeouts.
    for (const kind of KINDS) cases.push([`${kind} silent`, () => silentUnderCallers(kind)]);
    for (const kind of KINDS) {
      cases.push([`${kind} kill`, () => killedUnderCallers(kind)]);
      cases.push([`${kind} end`, () => endedUnderCallers(kind)]);
      cases.push([`${kind} drop`, () => droppedUnderCallers(kind)]);
    }
    cases.push(["pipelined mixed kill", pipelinedFailuresThenKill]);
    // Four at a time: more starve the connect timeouts (1 s) on a two-core machine.
    const batch = caseBatch(cases, 50, 4);
    after(() => batch.stop());

    for (const kind of KINDS) {
      it(
        `${kind}: 40 callers over 3 sessions, every backend terminated mid-query`,
        { timeout: 60_000 },
        () => batch.check(`${kind} kill`),
      );
      it(
        `${kind}: pool.end() while 20 queries run`,
        { timeout: 60_000 },
        () => batch.check(`${kind} end`),
      );
      it(
        `${kind}: the network reset under 20 callers (proxy drop)`,
        { timeout: 60_000 },
        () => batch.check(`${kind} drop`),
      );
    }
    for (const kind of KINDS) {
      it(
        `${kind}: the network gone silent under 10 callers: each gets a result or a typed error, and the pool serves again`,
        { timeout: 60_000 },
        () => batch.check(`${kind} silent`),
      );
    }
    it(
      "pipelined: 50 callers on 2 sessions, failures among them, then a kill: each settles once",
      { timeout: 60_000 },
      () => batch.check("pipelined mixed kill"),
    );
  });
}
