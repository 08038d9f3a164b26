/**
 * The Python module's `sqlprepare` / `query_prepared` and `paramstyle:
 * "pyformat"`, against real PostgreSQL with the `prep_queries` schema, per
 * driver of this runtime.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  createPool,
  type Pool,
  type PoolConfigInput,
  QueryError,
  QueryParamsError,
} from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { PREP_QUERIES_SQL } from "./fixtures/prep_queries.ts";
import { freshDatabase, runtimeDrivers } from "./python_support.ts";

const ROW_20 = { ID: 2, Column1: 20, Column2: "Col2-Data2", Column3: "Col3-Data2" };

for (const [name, makeDriver] of await runtimeDrivers()) {
  describe(`sqlprepare and queryPrepared over ${name}`, () => {
    let db: TestServer;
    let bare: TestServer;
    const drops: (() => Promise<void>)[] = [];
    const pools: Pool[] = [];

    before(async () => {
      const server = (await sharedServers())[0];
      const prepared = await freshDatabase(server, "sqlprepare", PREP_QUERIES_SQL);
      const empty = await freshDatabase(server, "sqlprepare_bare");
      drops.push(prepared.drop, empty.drop);
      db = prepared.server;
      bare = empty.server;
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      for (const drop of drops) await drop();
    });

    function pool(groups: PoolConfigInput["groups"], target?: TestServer) {
      const p = createPool({ db: endpointOf(target ?? db), groups, driver: makeDriver() });
      pools.push(p);
      return p;
    }

    it("queryPrepared() returns ExecuteQuery's first column: the rows as JSON", async () => {
      const p = pool({ py: { connection_count: 2, sqlprepare: true } });
      const rows = await p.withHandler("py", (h) =>
        h.queryPrepared([
          "S",
          "Test_Query_1",
          '{ "val1": 20, "val2": "Col2-Data2" }',
          ["val1", "val2"],
        ]));
      assert.deepEqual(rows, [ROW_20]);
      // A plain object is sent as JSON text; no row found gives the function's {}.
      const none = await p.withHandler(
        "py",
        (h) => h.queryPrepared(["S", "Test_Query_1", { val1: 99, val2: "x" }, ["val1", "val2"]]),
      );
      assert.deepEqual(none, {});
    });

    it("sqlprepare: every new session of the group has the statements prepared", async () => {
      const p = pool({ py: { connection_count: 3, sqlprepare: true } });
      await p.open();
      const seen = await Promise.all([0, 1, 2].map(() =>
        p.withHandler("py", async (h) => {
          const { rows } = await h.query<{ pid: number; n: number }>(
            "SELECT pg_backend_pid() AS pid, count(*)::int AS n FROM pg_prepared_statements WHERE name = 'Test_Query_1'",
          );
          await new Promise((r) => setTimeout(r, 50)); // hold it, so the three run on three sessions
          return rows[0];
        })
      ));
      assert.equal(new Set(seen.map((r) => r.pid)).size, 3);
      assert.deepEqual(seen.map((r) => r.n), [1, 1, 1]);
    });

    it("the prepared statements survive a handler that changed settings or ran DEALLOCATE ALL", async () => {
      const p = pool({ py: { connection_count: 1, sqlprepare: true } });
      await p.withHandler("py", (h) => h.query("SET search_path TO pg_catalog")); // reset: RESET ALL
      await p.withHandler("py", (h) => h.query("DEALLOCATE ALL")); // the session is replaced
      const rows = await p.withHandler(
        "py",
        (h) =>
          h.queryPrepared(["S", "Test_Query_1", { val1: 20, val2: "Col2-Data2" }, [
            "val1",
            "val2",
          ]]),
      );
      assert.deepEqual(rows, [ROW_20]);
    });

    it("in a transactional group an insert commits at the end, and rolls back when fn throws", async () => {
      const p = pool({ tx: { connection_count: 1, autocommit: false, sqlprepare: true } });
      const marker = `Col2-${name}-${Date.now()}`;
      const inserted = await p.withHandler(
        "tx",
        (h) =>
          h.queryPrepared<{ ID: number }[]>(["I", "Test_Insert_1", { val1: 77, val2: marker }, [
            "val1",
            "val2",
          ]]),
      );
      assert.equal(typeof inserted[0].ID, "number");
      await assert.rejects(
        p.withHandler("tx", async (h) => {
          await h.queryPrepared(["I", "Test_Insert_1", { val1: 78, val2: marker }, [
            "val1",
            "val2",
          ]]);
          throw new Error("fn failed");
        }),
        /fn failed/,
      );
      const { rows } = await p.query<{ c1: number }>(
        'SELECT "Column1" AS c1 FROM "SQLPrepare"."Test1" WHERE "Column2" = $1',
        [marker],
        { group: "tx" },
      );
      assert.deepEqual(rows, [{ c1: 77 }]);
    });

    it("works in a pipelined group too", async () => {
      const p = pool({ shared: { connection_count: 1, pipeline: true, sqlprepare: true } });
      const all = await Promise.all(
        [0, 1, 2, 3].map(() =>
          p.withHandler(
            "shared",
            (h) =>
              h.queryPrepared(["S", "Test_Query_1", { val1: 20, val2: "Col2-Data2" }, [
                "val1",
                "val2",
              ]]),
          )
        ),
      );
      for (const rows of all) assert.deepEqual(rows, [ROW_20]);
    });

    it("without sqlprepare the call reaches the server and fails with 26000", async () => {
      const p = pool({ plain: { connection_count: 1 } });
      await assert.rejects(
        p.withHandler(
          "plain",
          (h) => h.queryPrepared(["S", "Test_Query_1", { val1: 20, val2: "x" }, ["val1", "val2"]]),
        ),
        (err: unknown) => err instanceof QueryError && err.code === "26000",
      );
    });

    it("refuses params that are not an array with a TypeError", async () => {
      const p = pool({ py: { connection_count: 1, sqlprepare: true } });
      await assert.rejects(
        p.withHandler("py", (h) => h.queryPrepared("S" as unknown as unknown[])),
        (err: unknown) => err instanceof TypeError && /expected an array/.test(err.message),
      );
    });

    it("a database without the SQLPrepare schema: the lease fails naming sqlprepare", async () => {
      const p = pool({ py: { connection_count: 1, sqlprepare: true } }, bare);
      await assert.rejects(
        p.withHandler("py", (h) => h.query("SELECT 1")),
        (err: unknown) =>
          err instanceof ConnectionError && /group "py".*its sqlprepare failed/.test(err.message) &&
          (err.code === "3F000" || err.code === "42883"),
      );
    });
  });

  describe(`paramstyle "pyformat" over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    function pool(groups: PoolConfigInput["groups"], extra: Partial<PoolConfigInput> = {}) {
      const p = createPool({ db: endpointOf(server), groups, driver: makeDriver(), ...extra });
      pools.push(p);
      return p;
    }

    it("%s with an array and %(name)s with an object reach the server as $n parameters", async () => {
      const p = pool({ py: { connection_count: 1 } }, { paramstyle: "pyformat" });
      const rows = await p.withHandler("py", async (h) => {
        const a = await h.query("SELECT %s::int + %s::int AS n, '%s' AS lit, 7 %% 4 AS m", [1, 2]);
        const b = await h.query("SELECT %(x)s::text || %(x)s::text AS s", { x: "ab" });
        return [a.rows[0], b.rows[0]];
      });
      assert.deepEqual(rows, [{ n: 3, lit: "%s", m: 3 }, { s: "abab" }]);
    });

    it("pool.query() takes named params in a pyformat pool; a numeric pool refuses an object", async () => {
      const p = pool({ default: { connection_count: 1 } }, { paramstyle: "pyformat" });
      const { rows } = await p.query("SELECT %(a)s::int AS a", { a: 9 });
      assert.deepEqual(rows, [{ a: 9 }]);
      const numeric = pool({ default: { connection_count: 1 } });
      await assert.rejects(numeric.query("SELECT $1::int AS a", { a: 1 }), TypeError);
    });

    it("a wrong count is a QueryParamsError and nothing is sent: the transaction is unharmed", async () => {
      const p = pool({ tx: { connection_count: 1, autocommit: false, paramstyle: "pyformat" } });
      const n = await p.withHandler("tx", async (h) => {
        await h.query("SELECT 1");
        await assert.rejects(h.query("SELECT %s, %s", [1]), QueryParamsError);
        await assert.rejects(h.query("SELECT %(id)s", { other: 1 }), /no param named "id"/);
        const { rows } = await h.query<{ n: number }>("SELECT %s::int AS n", [5]);
        return rows[0].n;
      });
      assert.equal(n, 5);
    });

    it("a group's paramstyle replaces the pool's; the sql tag and numeric groups keep $n", async () => {
      const p = pool({
        py: { connection_count: 1 },
        num: { connection_count: 1, paramstyle: "numeric" },
      }, {
        paramstyle: "pyformat",
      });
      const id = 42;
      const tagged = await p.withHandler(
        "py",
        (h) => h.sql<{ id: number }>`SELECT ${id}::int AS id`,
      );
      assert.deepEqual(tagged.rows, [{ id: 42 }]);
      const numeric = await p.withHandler("num", (h) => h.query("SELECT $1::int AS id", [7]));
      assert.deepEqual(numeric.rows, [{ id: 7 }]);
      const shared = pool({ s: { connection_count: 1, pipeline: true, paramstyle: "pyformat" } });
      const piped = await shared.withHandler(
        "s",
        (h) => h.query("SELECT %(a)s::int AS a", { a: 3 }),
      );
      assert.deepEqual(piped.rows, [{ a: 3 }]);
    });
  });
}
