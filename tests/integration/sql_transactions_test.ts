/**
 * Reading SQL against real PostgreSQL, transactions: what a handler ran must
 * never leave a transaction open on a released session (`COMMIT AND CHAIN`,
 * `ROLLBACK TO SAVEPOINT` behind a comment, a failed multi-statement text),
 * and a pipelined group refuses transaction control in every disguise. The
 * proof is durability: the next caller's INSERT on the same session is seen
 * from another session.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, type Pool } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

function transactionSuite(name: string, makeDriver: () => Driver): void {
  describe(`reading SQL: transactions over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    const table = `sql_tx_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
    let next = 0;

    function makePool(autocommit: boolean, pipeline = false): Pool {
      const pool = createPool({
        db: endpointOf(server),
        groups: { g: { connection_count: 1, autocommit, pipeline } },
        driver: makeDriver(),
      });
      pools.push(pool);
      return pool;
    }

    async function durable(id: number): Promise<boolean> {
      const rows = await adminQuery(server, `SELECT 1 FROM ${table} WHERE id = $1`, [id]);
      return rows.length === 1;
    }

    /** Runs `dirty` in one lease, then another caller's INSERT on the same session. */
    async function nextInsertIsDurable(pool: Pool, dirty: string[]): Promise<void> {
      let pid = 0;
      // A transactional group reports a swallowed failure at commit (25P02): that is fine here.
      await pool.withHandler("g", async (db) => {
        pid = (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
        for (const text of dirty) await db.query(text).catch(() => {});
      }).catch(() => {});
      const id = ++next;
      await pool.withHandler("g", async (db) => {
        assert.equal(
          (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid,
          pid,
          "same session",
        );
        await db.query(`INSERT INTO ${table} VALUES (${id})`);
      });
      assert.ok(await durable(id), `the INSERT after ${JSON.stringify(dirty)} was lost`);
    }

    before(async () => {
      [server] = await sharedServers();
      await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${table} (id int)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
    });

    for (const autocommit of [true, false]) {
      const kind = autocommit ? "autocommit" : "transactional";
      const cases: [string, string[]][] = [
        ["COMMIT AND CHAIN", ["BEGIN", "COMMIT AND CHAIN"]],
        ["ROLLBACK AND CHAIN", ["BEGIN", "rollback work and chain"]],
        ["END AND CHAIN behind a comment holding ;", ["BEGIN", "/* a; b */ END AND CHAIN"]],
        ["ROLLBACK TO SAVEPOINT behind a comment", [
          "BEGIN",
          "SAVEPOINT s",
          "/* undo */ ROLLBACK TO SAVEPOINT s",
        ]],
        ["ROLLBACK TO behind a line comment", ["BEGIN; SAVEPOINT s", "-- x\r\nROLLBACK TO s"]],
        ["BEGIN in a failed multi-statement text", ["BEGIN; SELECT 1/0"]],
        ["BEGIN after a comment, then a failure", ["/* /* n; */ */ BEGIN", "SELECT 1/0"]],
        ["BEGIN behind comments in a multi-statement text", ["SELECT 1; -- ;\nbegin"]],
      ];
      for (const [what, dirty] of cases) {
        it(`${kind} group: ${what} leaves no transaction to the next caller`, async () => {
          await nextInsertIsDurable(makePool(autocommit), dirty);
        });
      }
    }

    it("transactional group: work after COMMIT AND CHAIN is committed on return", async () => {
      const pool = makePool(false);
      const [a, b] = [++next, ++next];
      await pool.withHandler("g", async (db) => {
        await db.query(`INSERT INTO ${table} VALUES (${a})`);
        await db.query("/* ; */ COMMIT AND CHAIN");
        await db.query(`INSERT INTO ${table} VALUES (${b})`);
      });
      assert.ok(await durable(a) && await durable(b));
    });

    it("transactional group: a throw after COMMIT AND CHAIN rolls back only the chained work", async () => {
      const pool = makePool(false);
      const [a, b] = [++next, ++next];
      await assert.rejects(
        pool.withHandler("g", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES (${a})`);
          await db.query("COMMIT AND CHAIN");
          await db.query(`INSERT INTO ${table} VALUES (${b})`);
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.ok(await durable(a), "committed before the chain");
      assert.ok(!await durable(b), "rolled back after the chain");
    });

    it("pipelined group refuses transaction control in every disguise", async () => {
      const pool = makePool(true, true);
      const disguises = [
        "/* a; b */ BEGIN",
        "-- a line comment\nBEGIN",
        "-- a line comment\r\nstart transaction",
        "--\rBEGIN",
        "/* outer /* nested; */ still a comment */ BEGIN",
        "SELECT ';'; BEGIN",
        "SELECT $$;$$; Begin",
        'SELECT 1 AS "a;b"; COMMIT AND CHAIN',
        "SELECT E'\\';'; BEGIN",
        "savepoint s",
        "SELECT 'unterminated; BEGIN",
      ];
      for (const text of disguises) {
        await assert.rejects(pool.withHandler("g", (db) => db.query(text)), /pipelined/, text);
      }
      const id = ++next;
      await pool.withHandler("g", (db) => db.query(`INSERT INTO ${table} VALUES (${id})`));
      assert.ok(await durable(id));
    });
  });
}

transactionSuite("postgres.js", () => postgresjs());
transactionSuite("node-postgres", () => nodePostgres());
if (isBun) transactionSuite("Bun.SQL", () => bunSql());
