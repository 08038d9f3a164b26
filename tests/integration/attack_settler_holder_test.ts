/**
 * The session's shared reply callbacks act for the right holder: a handler
 * that releases itself inside `withHandler` while `fn` goes on, a query `fn`
 * leaves running after it returns (answered in time, or past the wait), many
 * queries in flight on one handler with failures among them, and a failure
 * that must reach `fn` translated. Every driver of the runtime, one session
 * per pool so the next lease gets the same entry.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { ConnectionError, createPool, QueryError } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make } of drivers) {
  describe(`the reply callbacks act for the right holder over ${name}`, () => {
    const table = `attack_settler_holder_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
    const scope = serverScope({
      async setUp(server) {
        await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${table} (id int)`);
      },
      async tearDown(server) {
        await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
      },
    });

    const onePool = (group: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => {
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server),
        groups: { g: { connection_count: 1, autocommit: true, ...group } },
        driver: make(),
        pingAfterIdleMs: 60_000,
        ...extra,
      }));
      return pool;
    };

    it(
      "fn releases its handler and goes on: the next caller's run is not ended by it",
      {
        timeout: 30_000,
      },
      async () => {
        const pool = onePool();
        await withoutEscapes(async () => {
          let bDone = false;
          const a = pool.withHandler("g", async (db) => {
            await db.query("SELECT 1");
            await db.release();
            // The session is the next caller's now; A's fn settles while B's runs.
            await sleep(150);
            return "a";
          });
          await sleep(20);
          const b = pool.withHandler("g", async (db) => {
            await sleep(400);
            // Still B's lease: its handler must not have been ended under it.
            const r = await db.query<{ n: number }>("SELECT 2 AS n");
            bDone = true;
            return r.rows[0].n;
          });
          const results = await Promise.allSettled([a, b]);
          assert.deepEqual(
            results.map((r) => r.status === "fulfilled" ? r.value : inspect(r.reason)),
            ["a", 2],
          );
          assert.equal(bDone, true);
          const c = await pool.withHandler(
            "g",
            async (db) => (await db.query("SELECT 3 AS n")).rows,
          );
          assert.deepEqual(c, [{ n: 3 }]);
          assert.equal(pool.stats().groups.g.leased, 0);
        }, 50);
      },
    );

    it(
      "a query fn left running answers before the next caller gets the session",
      { timeout: 30_000 },
      async () => {
        const pool = onePool({}, { pingTimeoutMs: 5_000 });
        await withoutEscapes(async () => {
          let strayDone = false;
          let stray: Promise<unknown> | undefined;
          const pidA = await pool.withHandler("g", async (db) => {
            const pid = (await db.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            // Not awaited: fn returns while it runs.
            stray = db.query("SELECT pg_sleep(0.4), 1 AS n").then((r) => {
              strayDone = true;
              return r.rows;
            });
            return pid;
          });
          const seen = await pool.withHandler("g", async (db) => {
            const sawStrayDone = strayDone;
            const pid = (await db.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            return { sawStrayDone, pid };
          });
          const strayRows = await stray as { n: number }[];
          assert.equal(strayRows[0].n, 1, "the stray query resolved with its rows");
          assert.equal(seen.sawStrayDone, true, "the next caller ran only after the stray reply");
          assert.equal(seen.pid, pidA, "the session was kept (it answered in time)");
          assert.equal(pool.stats().groups.g.leased, 0);
        });
      },
    );

    it(
      "a query fn left running past the wait: the session is dropped, the stray query fails typed",
      { timeout: 30_000 },
      async () => {
        const pool = onePool({}, { pingTimeoutMs: 300 });
        await withoutEscapes(async () => {
          let strayOutcome: unknown = "pending";
          const pidA = await pool.withHandler("g", async (db) => {
            const pid = (await db.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
            // Not awaited: fn returns while it runs, longer than release waits.
            db.query("SELECT pg_sleep(5)").then(
              () => (strayOutcome = "resolved"),
              (err) => (strayOutcome = err),
            );
            return pid;
          });
          const pidB = await pool.withHandler("g", async (db) => {
            // The next caller's session answers at once: no query of A runs on it.
            const r = await db.query("SELECT pg_backend_pid() AS pid, 1 AS n");
            return r.rows[0].pid;
          });
          assert.notEqual(pidB, pidA, "a session still running fn's query is never handed out");
          for (let i = 0; i < 100 && strayOutcome === "pending"; i++) await sleep(100);
          assert.ok(
            strayOutcome instanceof ConnectionError,
            `the stray query: ${inspect(strayOutcome)}`,
          );
          // The server's backend may sleep on until it next writes; the pool's side is gone.
          assert.ok(pool.stats().groups.g.destroyed >= 1, "the session was dropped");
          assert.equal(pool.stats().groups.g.leased, 0);
        });
      },
    );

    it(
      "forty queries in flight on one handler, failures among them: each settles once, release is immediate",
      { timeout: 30_000 },
      async () => {
        const pool = onePool();
        await withoutEscapes(async () => {
          for (let round = 0; round < 3; round++) {
            const outcomes = await pool.withHandler("g", (db) => {
              const calls: Promise<unknown>[] = [];
              for (let i = 0; i < 40; i++) {
                const text = i % 7 === 3 ? "SELECT 1/0 AS n" : `SELECT ${i} AS n`;
                calls.push(db.query(text).then((r) => r.rows[0].n, (err) => err));
              }
              return Promise.all(calls);
            });
            outcomes.forEach((o, i) => {
              if (i % 7 === 3) {
                assert.ok(o instanceof QueryError, `${i}: ${inspect(o)}`);
                assert.equal((o as QueryError).code, "22012");
              } else assert.equal(o, i);
            });
            assert.equal(pool.stats().groups.g.leased, 0, "released at once: nothing left busy");
          }
        });
      },
    );

    it(
      "a transactional run: failures reach fn as QueryError, the aborted transaction too, nothing committed",
      { timeout: 30_000 },
      async () => {
        const pool = onePool({ autocommit: false });
        await withoutEscapes(async () => {
          const seen: unknown[] = [];
          const run = await pool.withHandler("g", async (db) => {
            await db.query(`INSERT INTO ${table} VALUES (1)`);
            seen.push(await db.query("SELECT 1/0").catch((e) => e));
            seen.push(await db.query("SELECT 1").catch((e) => e));
            return "fn swallowed them";
          }).catch((e) => e);
          const [first, second] = seen as QueryError[];
          assert.ok(first instanceof QueryError, inspect(first));
          assert.equal(first.code, "22012");
          assert.ok(second instanceof QueryError, inspect(second));
          assert.equal(second.code, "25P02");
          // The commit of a failed transaction is refused with a typed error too.
          assert.ok(run instanceof QueryError, `the run: ${inspect(run)}`);
          const rows = await adminQuery(scope.server, `SELECT count(*)::int AS n FROM ${table}`);
          assert.equal(rows[0].n, 0);
          assert.equal(
            await pool.withHandler("g", async (db) => (await db.query("SELECT 5 AS n")).rows[0].n),
            5,
          );
          assert.equal(pool.stats().groups.g.leased, 0);
        });
      },
    );
  });
}
