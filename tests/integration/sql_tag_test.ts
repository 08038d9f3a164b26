/**
 * `db.sql` against real PostgreSQL, through every driver this runtime has:
 * values travel as `$n` parameters (the text sent never contains them), on
 * exclusive, transactional and pipelined groups alike.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPool,
  type Driver,
  type DriverConnection,
  type Pool,
  QueryError,
  sqlFragment,
} from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());

/** Wraps a driver so that every text sent (with its params) is recorded. */
function recording(inner: Driver, sent: { text: string; params?: readonly unknown[] }[]): Driver {
  return {
    name: inner.name,
    async connect(params) {
      const conn = await inner.connect(params);
      const wrapped: DriverConnection = {
        query(text, p) {
          sent.push({ text, params: p });
          return conn.query(text, p);
        },
        get closed() {
          return conn.closed;
        },
        get parameters() {
          return conn.parameters;
        },
        close: () => conn.close(),
      };
      return wrapped;
    },
  };
}

// Each tries to end the string or the statement and run something of its own.
const EVIL = [
  "'; DROP TABLE victims; --",
  "1 OR 1=1",
  "x'); DELETE FROM victims; SELECT ('",
  "$1",
  "\\'; DROP TABLE victims; --",
  "$$; DROP TABLE victims; $$",
  "*/ DROP TABLE victims; /*",
];

for (const { name, make } of drivers) {
  describe(`db.sql over ${name} against real PostgreSQL`, () => {
    let server: TestServer;
    let pool: Pool;
    const sent: { text: string; params?: readonly unknown[] }[] = [];

    before(async () => {
      server = (await sharedServers())[0];
      pool = createPool({
        db: endpointOf(server),
        groups: {
          default: { connection_count: 2 },
          tx: { connection_count: 1, autocommit: false },
          shared: { connection_count: 1, pipeline: true },
        },
        driver: recording(make(), sent),
      });
    });

    after(async () => {
      await pool?.end();
    });

    function assertOnlyPlaceholders(): void {
      for (const { text } of sent) {
        for (const value of EVIL.filter((v) => v !== "$1")) {
          assert.ok(!text.includes(value), `a value reached the text: ${text}`);
        }
      }
    }

    it("db.sql stores injection attempts as plain values; the text sent holds only $n", async () => {
      sent.length = 0;
      await pool.withHandler("tx", async (db) => {
        // A temporary table: this session's alone, whatever else runs on the server.
        await db.sql`CREATE TEMP TABLE victims (id int PRIMARY KEY, name text)`;
        for (const [i, value] of EVIL.entries()) {
          const r = await db.sql`INSERT INTO victims (id, name) VALUES (${i}, ${value})`;
          assert.equal(r.command, "INSERT");
          assert.equal(r.rowCount, 1);
        }
        const { rows } = await db.sql<{ id: number; name: string }>`
          SELECT id, name FROM victims ORDER BY id`;
        assert.deepEqual(rows.map((r) => r.name), EVIL);
        const one = await db.sql<{ id: number }>`SELECT id FROM victims WHERE name = ${EVIL[0]}`;
        assert.deepEqual(one.rows, [{ id: 0 }]);
        const none = await db.sql`SELECT id FROM victims WHERE name = ${"1 OR 1=1' OR '1'='1"}`;
        assert.equal(none.rowCount, 0);
        await db.rollback();
      });
      const inserts = sent.filter((q) => q.text.includes("INSERT INTO victims"));
      assert.equal(inserts.length, EVIL.length);
      for (const [i, q] of inserts.entries()) {
        assert.equal(q.text, "INSERT INTO victims (id, name) VALUES ($1, $2)");
        assert.deepEqual(q.params, [i, EVIL[i]]);
      }
      assertOnlyPlaceholders();
    });

    it("db.sql gives the same result as db.query with the text and params it builds", async () => {
      const id = 7;
      await pool.withHandler("default", async (db) => {
        const tagged = await db.sql`SELECT ${id}::int AS id, ${"a"}::text AS s, ${null}::int AS n`;
        const plain = await db.query("SELECT $1::int AS id, $2::text AS s, $3::int AS n", [
          id,
          "a",
          null,
        ]);
        assert.deepEqual(tagged, plain);
        assert.deepEqual(tagged.rows, [{ id: 7, s: "a", n: null }]);
      });
    });

    it("db.sql passes an array as one parameter and inlines sqlFragment pieces", async () => {
      const ids = [2, 4, 6];
      const even = sqlFragment`g % ${2} = 0`;
      const filter = sqlFragment`${even} AND g = ANY(${ids}::int[])`;
      const { rows } = await pool.withHandler(
        "default",
        (db) =>
          db.sql<
            { g: number }
          >`SELECT g FROM generate_series(1, ${10}) g WHERE ${filter} ORDER BY g`,
      );
      assert.deepEqual(rows.map((r) => r.g), [2, 4, 6]);
      const q = sent.findLast((s) => s.text.includes("generate_series"))!;
      assert.equal(
        q.text,
        "SELECT g FROM generate_series(1, $1) g WHERE g % $2 = 0 AND g = ANY($3::int[]) ORDER BY g",
      );
      assert.deepEqual(q.params, [10, 2, [2, 4, 6]]);
    });

    it("db.sql runs on a pipelined group, concurrently, each caller its own values", async () => {
      sent.length = 0;
      const results = await Promise.all(
        EVIL.map((value) =>
          pool.withHandler("shared", (db) => db.sql<{ v: string }>`SELECT ${value}::text AS v`)
        ),
      );
      assert.deepEqual(results.map((r) => r.rows[0].v), EVIL);
      assertOnlyPlaceholders();
    });

    it("db.sql reports a server error as QueryError, the value still a parameter", async () => {
      await assert.rejects(
        pool.withHandler("default", (db) => db.sql`SELECT ${"not a number"}::int`),
        (err) => err instanceof QueryError && err.code === "22P02",
      );
    });
  });
}
