/**
 * Replies in flight when the session goes: backends terminated under many
 * callers, `pool.end()` mid-query, the network reset or gone silent (the
 * kit's proxy), on exclusive and pipelined groups. Every caller settles
 * once with a result or a typed error, nothing escapes as an unhandled
 * rejection, no session stays leased, and the pool serves again.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
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
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type EscapeWatch, watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
// The first callers are in flight when the fault comes; the ones behind them are quick.
const nap = (i: number) => i < 6 ? 0.3 : 0.02;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind = "autocommit" | "transactional" | "pipelined";
const KINDS: Kind[] = ["autocommit", "transactional", "pipelined"];

/** Waits until `check` holds, for at most `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(25);
  }
  return check();
}

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
    let server: TestServer;
    const pools: Pool[] = [];
    const proxies: TestProxy[] = [];
    let appName = "";
    let next = 0;

    before(async () => {
      [server] = await sharedServers();
    });
    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await Promise.all(proxies.map((p) => p.close()));
    });

    const makePool = (
      kind: Kind,
      sessions: number,
      db: unknown = endpointOf(server),
      extra: Record<string, unknown> = {},
    ) => {
      appName = `as_loss_${name.replace(/\W/g, "_")}_${++next}_${Date.now() % 100000}`;
      const endpoint = { ...(db as Record<string, unknown>), application_name: appName };
      const pool = createPool({
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
      } as any);
      pools.push(pool);
      return pool;
    };

    const killAll = () =>
      adminQuery(
        server,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
        [appName],
      );

    for (const kind of KINDS) {
      it(
        `${kind}: 40 callers over 3 sessions, every backend terminated mid-query`,
        { timeout: 60_000 },
        async () => {
          const pool = makePool(kind, 3);
          const watch = watchEscapes();
          try {
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
            await sleep(120);
            await killAll();
            const outcomes = await Promise.all(calls);
            const problems = outcomes
              .map((o, i) => [o, i] as const)
              .filter(([o, i]) => o !== i && !(o instanceof ConnectionError))
              .map(([o, i]) => `${i}: ${inspect(o)}`);
            assert.deepEqual(problems, []);
            assert.ok(outcomes.some((o) => o instanceof ConnectionError), "the kill hit someone");
            assert.ok(
              await until(() => pool.stats().groups.g.leased === 0, 5_000),
              JSON.stringify(pool.stats().groups.g),
            );
            assert.equal(await servesAgain(pool, 0), 0);
            const again = await Promise.all(
              Array.from(
                { length: 10 },
                (_, i) =>
                  pool.withHandler(
                    "g",
                    async (db) =>
                      (await db.query<{ n: number }>("SELECT $1::int AS n", [i])).rows[0].n,
                  ),
              ),
            );
            assert.deepEqual(again, Array.from({ length: 10 }, (_, i) => i));
            await sleep(50);
            assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
          } finally {
            watch.stop();
          }
        },
      );

      it(
        `${kind}: pool.end() while 20 queries run`,
        { timeout: 60_000 },
        async () => {
          const pool = makePool(kind, 3);
          const watch = watchEscapes();
          try {
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
            const problems = outcomes
              .map((o, i) => [o, i] as const)
              .filter(([o, i]) => o !== i && !(o instanceof PoolError))
              .map(([o, i]) => `${i}: ${inspect(o)}`);
            assert.deepEqual(problems, [], "a result or a typed error, each");
            const left = await adminQuery(
              server,
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1
                 AND state <> 'active'`,
              [appName],
            );
            assert.equal(left[0].n, 0, "no idle session left open after end()");
            await sleep(50);
            assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
          } finally {
            watch.stop();
          }
        },
      );

      it(
        `${kind}: the network reset under 20 callers (proxy drop)`,
        { timeout: 60_000 },
        async () => {
          const proxy = await startProxy({ target: server });
          proxies.push(proxy);
          const pool = makePool(
            kind,
            2,
            endpointOf(server, { host: proxy.host, port: proxy.port }),
          );
          const watch = watchEscapes();
          try {
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
            await sleep(100);
            proxy.drop();
            const outcomes = await Promise.all(calls);
            const problems = outcomes
              .map((o, i) => [o, i] as const)
              .filter(([o, i]) => o !== i && !(o instanceof PoolError))
              .map(([o, i]) => `${i}: ${inspect(o)}`);
            assert.deepEqual(problems, [], "a result or a typed error, each");
            assert.ok(
              outcomes.some((o) => o instanceof ConnectionError),
              `the drop hit someone: ${outcomes.map((o) => inspect(o)).join(", ")}`,
            );
            proxy.pass();
            assert.ok(
              await until(() => pool.stats().groups.g.leased === 0, 5_000),
              JSON.stringify(pool.stats().groups.g),
            );
            assert.equal(await servesAgain(pool, 4), 4);
            await sleep(50);
            assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
          } finally {
            watch.stop();
          }
        },
      );
    }

    /** The network gone silent under 10 callers, on a `kind` pool through a proxy of its own. */
    async function silentUnderCallers(kind: Kind): Promise<void> {
      const proxy = await startProxy({ target: server });
      proxies.push(proxy);
      const pool = makePool(
        kind,
        2,
        // Replacements connect through the stalled proxy too: they give up after 1 s.
        endpointOf(server, {
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
      const problems = outcomes
        .map((o, i) => [o, i] as const)
        .filter(([o, i]) => o !== i && !(o instanceof PoolError))
        .map(([o, i]) => `${i}: ${inspect(o)}`);
      assert.deepEqual(problems, [], "a result or a typed error, each");
      assert.ok(outcomes.some((o) => o instanceof PoolError), "the stall ended someone");
      proxy.pass();
      assert.ok(
        await until(() => pool.stats().groups.g.leased === 0, 5_000),
        JSON.stringify(pool.stats().groups.g),
      );
      assert.equal(await servesAgain(pool, 6), 6);
    }

    // The kinds' silent networks run at once, each on its own proxy and pool (their time is the
    // sweep's and the connect timeout's); each test checks its own kind, and that nothing escaped
    // while any ran. The first test waits for all, so nothing runs on into the next tests.
    let silent: { watch: EscapeWatch; runs: Map<Kind, Promise<void>> } | undefined;
    after(() => silent?.watch.stop());
    for (const kind of KINDS) {
      it(
        `${kind}: the network gone silent under 10 callers: each gets a result or a typed error, and the pool serves again`,
        { timeout: 60_000 },
        async () => {
          if (silent === undefined) {
            const watch = watchEscapes();
            silent = { watch, runs: new Map(KINDS.map((k) => [k, silentUnderCallers(k)])) };
          }
          await Promise.allSettled(silent.runs.values());
          await silent.runs.get(kind);
          await sleep(50);
          assert.deepEqual(silent.watch.escaped.map((e) => inspect(e)), []);
        },
      );
    }

    it(
      "pipelined: 50 callers on 2 sessions, failures among them, then a kill: each settles once",
      { timeout: 60_000 },
      async () => {
        const pool = makePool("pipelined", 2);
        const watch = watchEscapes();
        try {
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
          await sleep(150);
          await killAll();
          const outcomes = await killed;
          const problems = outcomes
            .map((o, i) => [o, i] as const)
            .filter(([o, i]) => o !== i && !(o instanceof ConnectionError))
            .map(([o, i]) => `${i}: ${inspect(o)}`);
          assert.deepEqual(problems, []);
          assert.ok(outcomes.some((o) => o instanceof ConnectionError), "the kill hit someone");
          assert.equal(await servesAgain(pool, 0), 0);
          const after = await round((i) => `SELECT ${i} AS n`);
          assert.deepEqual(after, Array.from({ length: 50 }, (_, i) => i));
          assert.equal(pool.stats().groups.g.leased, 0);
          await sleep(50);
          assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
        } finally {
          watch.stop();
        }
      },
    );
  });
}
