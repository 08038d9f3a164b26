/**
 * The Python module's API against real PostgreSQL, per driver of this runtime,
 * used as ported code misuses it: the manual `db.commit()` mid-way in a group
 * that retries (committed work must never run twice), `commit()` called twice
 * at once or left unawaited, `commit()` in a pipelined group, more parameters
 * than the protocol can carry (QueryError 54023), and pyformat texts whose `%%` sit in dollar
 * quotes. Each either works as documented or fails with a typed error, and the
 * session stays usable.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, type PoolConfigInput, PoolError, QueryError } from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "./python_support.ts";

const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" ? "deno" : "bun";
/** Raises a serialization failure, as a concurrent transaction would. */
const SERIALIZATION_FAILURE =
  "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$";
let seq = 0;

for (const [name, makeDriver] of await runtimeDrivers()) {
  describe(`the Python API misused over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    const table = `attack_py_${name.replace(/\W/g, "_")}_${runtime}_${Date.now() % 1e6}`;

    before(async () => {
      server = (await sharedServers())[0];
      await adminQuery(server, `CREATE TABLE ${table} (id int, note text)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
    });

    function pool(groups: PoolConfigInput["groups"], extra: Partial<PoolConfigInput> = {}): Pool {
      const db = endpointOf(server, { application_name: `attack_py_${++seq}` });
      const p = createPool({ db, groups, driver: makeDriver(), ...extra });
      pools.push(p);
      return p;
    }

    async function rowsWith(id: number): Promise<number> {
      const rows = await adminQuery(
        server,
        `SELECT count(*)::int AS n FROM ${table} WHERE id = $1`,
        [
          id,
        ],
      );
      return Number(rows[0].n);
    }

    it("a group with retry never runs fn again once fn committed mid-way (db.commit() or COMMIT)", async () => {
      const p = pool({ tx: { connection_count: 1, autocommit: false, retry: 3 } });
      const commits: [
        string,
        (db: { commit(): Promise<void>; query(t: string): Promise<unknown> }) => Promise<unknown>,
      ][] = [
        ["db.commit()", (db) => db.commit()],
        ["db.query('COMMIT')", (db) => db.query("COMMIT")],
      ];
      await Promise.all(commits.map(async ([how, commit], i) => {
        const id = 1000 + i;
        let runs = 0;
        const err = await p.withHandler("tx", async (db) => {
          runs++;
          await db.query(`INSERT INTO ${table} VALUES (${id}, 'once')`);
          await commit(db);
          await db.query(SERIALIZATION_FAILURE);
        }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof QueryError && err.code === "40001", `${how}: got ${err}`);
        assert.equal(runs, 1, `${how}: fn ran ${runs} times after committing`);
        assert.equal(await rowsWith(id), 1, `${how}: the committed row is there once`);
      }));
    });

    it("a group with retry still retries a 40001 when fn committed nothing", async () => {
      const p = pool({ tx: { connection_count: 1, autocommit: false, retry: 2 } });
      let runs = 0;
      const out = await p.withHandler("tx", async (db) => {
        runs++;
        await db.query(`INSERT INTO ${table} VALUES (2000, 'retried')`);
        if (runs === 1) await db.query(SERIALIZATION_FAILURE);
        return runs;
      });
      assert.equal(out, 2);
      assert.equal(await rowsWith(2000), 1);
    });

    it("commit() twice at once, or left unawaited when fn returns, commits once and rejects nothing", async () => {
      const p = pool({ tx: { connection_count: 1, autocommit: false } });
      await p.withHandler("tx", async (db) => {
        await db.query(`INSERT INTO ${table} VALUES (3000, 'twice')`);
        await Promise.all([db.commit(), db.commit()]);
        await db.query(`INSERT INTO ${table} VALUES (3001, 'unawaited')`);
        void db.commit();
      });
      assert.equal(await rowsWith(3000), 1);
      assert.equal(await rowsWith(3001), 1);
      // The session is clean for the next caller.
      const { rows } = await p.withHandler("tx", (db) => db.query("SELECT 1 AS one"));
      assert.equal(rows[0].one, 1);
    });

    it("commit() after a failed statement rejects with 25P02, and the next query opens a new transaction", async () => {
      const p = pool({ tx: { connection_count: 1, autocommit: false } });
      await p.withHandler("tx", async (db) => {
        await db.query(`INSERT INTO ${table} VALUES (4000, 'lost')`);
        await assert.rejects(db.query("SELEC 1"), QueryError);
        await assert.rejects(
          db.commit(),
          (e: unknown) => e instanceof QueryError && e.code === "25P02",
        );
        await db.query(`INSERT INTO ${table} VALUES (4001, 'kept')`);
      });
      assert.equal(await rowsWith(4000), 0);
      assert.equal(await rowsWith(4001), 1);
    });

    it("commit() and rollback() in a pipelined group reject with a typed error, sharing nothing", async () => {
      const p = pool({ shared: { connection_count: 1, pipeline: true } });
      await p.withHandler("shared", async (db) => {
        await assert.rejects(db.commit(), PoolError);
        await assert.rejects(db.rollback(), PoolError);
        assert.equal((await db.query("SELECT 1 AS one")).rows[0].one, 1);
      });
    });

    it("more parameters than the protocol carries is QueryError 54023 before anything is sent, in either paramstyle; the session stays usable", async () => {
      const p = pool({
        num: { connection_count: 1 },
        py: { connection_count: 1, paramstyle: "pyformat" },
      });
      const n = 65535;
      const tooMany = (e: unknown) => e instanceof QueryError && e.code === "54023";
      const values = Array.from({ length: n }, (_, i) => i);
      const array = (count: number, mark: (i: number) => string) =>
        `SELECT (ARRAY[${
          Array.from({ length: count }, (_, i) => mark(i)).join(",")
        }])[${count}] AS last`;
      const numeric = array(n, (i) => `$${i + 1}::int`);
      const pyformat = array(n, () => "%s::int");
      await Promise.all([
        p.withHandler("num", async (db) => {
          await assert.rejects(db.query(numeric, values), tooMany);
          assert.equal((await db.query("SELECT $1::int AS v", [7])).rows[0].v, 7);
        }),
        p.withHandler("py", async (db) => {
          await assert.rejects(db.query(pyformat, values), tooMany);
          assert.equal((await db.query("SELECT %s::int AS v", [7])).rows[0].v, 7);
        }),
      ]);
      // One limit for every driver: postgres.js refuses 65534 itself, so the pool refuses it first.
      const over = values.slice(0, 65534);
      await p.withHandler("num", async (db) => {
        await assert.rejects(db.query(array(over.length, (i) => `$${i + 1}::int`), over), tooMany);
      });
      // 65533 go through every driver.
      const most = values.slice(0, 65533);
      const { rows } = await p.withHandler(
        "num",
        (db) => db.query(array(most.length, (i) => `$${i + 1}::int`), most),
      );
      assert.equal(rows[0].last, 65532);
    });

    it("pyformat: %% in a dollar quote or a string is a %, a %s there stays text, the values are bound", async () => {
      const p = pool({ py: { connection_count: 1, paramstyle: "pyformat" } });
      const { rows } = await p.withHandler(
        "py",
        (db) =>
          db.query("SELECT $$50%% off %s$$ AS a, '%%(x)s' AS b, %(v)s::text AS c -- %(missing)s", {
            v: "it's %s",
          }),
      );
      assert.deepEqual(rows[0], { a: "50% off %s", b: "%(x)s", c: "it's %s" });
    });
  });
}
