/**
 * Misuse and bad input against real PostgreSQL, registered once per driver by
 * that driver's test file (`driver_<driver>_test.ts`): each case ends in a
 * clear, typed error and leaves the pool healthy (a withHandler succeeds,
 * nothing stays leased). The same cases over the fake driver, and the cases
 * that need no server, are in tests/unit/misuse_test.ts.
 *
 * @module
 */
import { after, before, describe } from "node:test";
import assert from "node:assert/strict";
import {
  AcquireTimeoutError,
  ConnectionError,
  createPool,
  type Driver,
  type Handler,
  HandlerReleasedError,
  type Pool,
  PoolClosedError,
  type PoolConfigInput,
  QueryError,
} from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { gappedTests } from "../support/gapped_tests.ts";

let seq = 0;

/**
 * Registers the misuse cases for one driver. `gaps` maps a test title to the
 * reason the driver cannot pass it; such a test is skipped with that reason.
 *
 * @example A driver with one known gap
 * ```ts ignore
 * misuseSuite("mydriver", () => myDriver(), {
 *   "30,000 parameters in one query work": "mydriver sends at most 10,000",
 * });
 * ```
 */
export function misuseSuite(
  name: string,
  makeDriver: () => Driver,
  gaps: Readonly<Record<string, string>> = {},
): void {
  const { it, checkGaps } = gappedTests("misuseSuite", name, gaps);

  describe(`misuse over ${name} against real PostgreSQL`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    const table = `misuse_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;

    // A pool with its own application_name, so that its sessions can be counted on the server.
    function makePool(
      groups: PoolConfigInput["groups"],
      extra: Partial<PoolConfigInput> = {},
    ): { pool: Pool; app: string } {
      const app = `misuse_${name}_${++seq}`.replace(/\W/g, "_");
      const pool = createPool({
        db: endpointOf(server, { application_name: app }),
        groups,
        driver: makeDriver(),
        ...extra,
      });
      pools.push(pool);
      return { pool, app };
    }

    async function sessions(app: string): Promise<number> {
      const rows = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      return rows[0].n as number;
    }

    /** Polls until `check` holds (a closed session leaves pg_stat_activity a moment later). */
    async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
      for (let i = 0; i < 150; i++) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.fail(`never true: ${what}`);
    }

    /** The pool works and holds nothing. A signal bounds it: a stuck pool fails, not hangs. */
    async function assertHealthy(pool: Pool, group: string): Promise<void> {
      const v = await pool.withHandler(
        group,
        async (db) => (await db.query<{ v: number }>("SELECT $1::int AS v", [42])).rows[0].v,
        { timeoutMs: 2000, signal: AbortSignal.timeout(3000) },
      );
      assert.equal(v, 42);
      assert.equal(pool.stats().groups[group].leased, 0, "a connection is still leased");
    }

    before(async () => {
      [server] = await sharedServers();
      await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${table} (id int)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
    });

    it("a handler used after release throws HandlerReleasedError, also from a callback that fires later", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      let kept!: Handler;
      const late = new Promise<unknown>((resolve) => {
        pool.withHandler("g", async (db) => {
          kept = db;
          await db.query("SELECT 1");
          setTimeout(() => db.query("SELECT 'late'").then(resolve, resolve), 0);
        });
      });
      assert.ok((await late) instanceof HandlerReleasedError);
      await assert.rejects(kept.query("SELECT 1"), HandlerReleasedError);
      await assert.rejects(kept.commit(), HandlerReleasedError);
      const leased = await pool.lease("g");
      await leased.release();
      await leased.release(); // twice: a no-op
      await assert.rejects(leased.query("SELECT 1"), HandlerReleasedError);
      await assertHealthy(pool, "g");
    });

    it("withHandler() nested on a one-connection group ends in AcquireTimeoutError, not a hang", async () => {
      const { pool } = makePool({ g: { connection_count: 1, autocommit: false } });
      await assert.rejects(
        pool.withHandler("g", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES (-1)`);
          return await pool.withHandler("g", (inner) => inner.query("SELECT 1"), {
            timeoutMs: 200,
          });
        }),
        (err) => err instanceof AcquireTimeoutError && /waiting=1/.test(err.message),
      );
      const rows = await adminQuery(server, `SELECT 1 FROM ${table} WHERE id = -1`);
      assert.equal(rows.length, 0, "the outer call's insert was committed");
      await assertHealthy(pool, "g");
    });

    it("fn that never settles, with a signal: rejects with its reason, the backend is gone, nothing committed", async () => {
      const { pool, app } = makePool({ tx: { connection_count: 1, autocommit: false } });
      const ac = new AbortController();
      let pid = 0;
      const started = Promise.withResolvers<void>();
      const call = pool.withHandler("tx", async (db) => {
        await db.query(`INSERT INTO ${table} VALUES (-2)`);
        pid = (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
        started.resolve();
        await new Promise(() => {});
      }, { signal: ac.signal });
      await started.promise;
      const reason = new Error("request cancelled");
      ac.abort(reason);
      await assert.rejects(call, (err) => err === reason);
      assert.equal(pool.stats().groups.tx.total, 0);
      await eventually(
        "the backend ended",
        async () =>
          (await adminQuery(server, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]))
            .length === 0,
      );
      assert.equal(
        (await adminQuery(server, `SELECT 1 FROM ${table} WHERE id = -2`)).length,
        0,
        "the abandoned transaction was committed",
      );
      await assertHealthy(pool, "tx");
      assert.equal(await sessions(app), 1);
    });

    it("end() while calls are in flight: they finish or fail cleanly, new ones get PoolClosedError, end() resolves", async () => {
      const { pool, app } = makePool({ tx: { connection_count: 1, autocommit: false } });
      const started = Promise.withResolvers<void>();
      const running = pool.withHandler("tx", async (db) => {
        await db.query(`INSERT INTO ${table} VALUES (-3)`);
        started.resolve();
        await db.query("SELECT pg_sleep(0.2)");
        return "finished";
      });
      await started.promise;
      const waiting = pool.withHandler("tx", () => "never");
      assert.equal(pool.stats().groups.tx.waiting, 1);
      const ending = pool.end();
      await assert.rejects(waiting, PoolClosedError);
      await assert.rejects(pool.withHandler("tx", () => 1), PoolClosedError);
      await assert.rejects(pool.lease("tx"), PoolClosedError);
      assert.equal(await running, "finished");
      await ending;
      assert.equal((await adminQuery(server, `SELECT 1 FROM ${table} WHERE id = -3`)).length, 1);
      await eventually("every session closed", async () => (await sessions(app)) === 0);
      const s = pool.stats().groups.tx;
      assert.deepEqual([s.total, s.leased, s.waiting], [0, 0, 0]);
    });

    it("a SQL syntax error is a QueryError with code 42601 and its position; the session is kept", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      await assert.rejects(
        pool.withHandler("g", (db) => db.query("SELECT * FRM t")),
        (err) =>
          err instanceof QueryError && err.code === "42601" && err.position === 10 &&
          /FRM/.test(err.message),
      );
      await assertHealthy(pool, "g");
      assert.equal(pool.stats().groups.g.created, 1, "the session was replaced");
    });

    it("a syntax error in a transactional group rolls back and leaves a clean session", async () => {
      const { pool } = makePool({ tx: { connection_count: 1, autocommit: false } });
      await assert.rejects(
        pool.withHandler("tx", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES (-4)`);
          await db.query("SELEC 1");
        }),
        (err) => err instanceof QueryError && err.code === "42601" && err.position === 1,
      );
      assert.equal((await adminQuery(server, `SELECT 1 FROM ${table} WHERE id = -4`)).length, 0);
      await assertHealthy(pool, "tx");
    });

    it("30,000 parameters in one query work", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      const n = 30_000;
      const text = `SELECT array_length(ARRAY[${
        Array.from({ length: n }, (_, i) => `$${i + 1}::int`).join(",")
      }], 1) AS n`;
      const got = await pool.withHandler(
        "g",
        async (db) =>
          (await db.query<{ n: number }>(text, Array.from({ length: n }, (_, i) => i))).rows[0].n,
      );
      assert.equal(got, n);
      await assertHealthy(pool, "g");
    });

    const tooMany = (n: number) => ({
      text: `SELECT array_length(ARRAY[${
        Array.from({ length: n }, (_, i) => `$${i + 1}::int`).join(",")
      }], 1) AS n`,
      params: Array.from({ length: n }, (_, i) => i),
    });

    it("70,000 parameters fail with a QueryError, and the session is kept", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      const { text, params } = tooMany(70_000);
      await assert.rejects(
        pool.withHandler("g", (db) => db.query(text, params), {
          signal: AbortSignal.timeout(3000),
        }),
        (err) => err instanceof QueryError && !(err instanceof ConnectionError),
      );
      await assertHealthy(pool, "g");
      assert.equal(pool.stats().groups.g.created, 1, "the session was dropped");
    });

    it("70,000 parameters twice in a row fail twice with a QueryError, and the pool is not stuck", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      const { text, params } = tooMany(70_000);
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          pool.withHandler("g", (db) => db.query(text, params), {
            signal: AbortSignal.timeout(3000),
          }),
          (err) => err instanceof QueryError,
        );
      }
      await assertHealthy(pool, "g");
    });

    it("parameters that are not an array fail with a QueryError or TypeError, and the session is kept", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      await assert.rejects(
        pool.withHandler("g", (db) => db.query("SELECT $1", "x" as unknown as unknown[])),
        (err) =>
          (err instanceof QueryError && !(err instanceof ConnectionError)) ||
          err instanceof TypeError,
      );
      await assertHealthy(pool, "g");
      assert.equal(pool.stats().groups.g.created, 1, "the session was dropped");
    });

    checkGaps();
  });
}
