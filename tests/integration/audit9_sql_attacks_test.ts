/**
 * Reading SQL, attacked with forms the other SQL tests do not use (issue 9,
 * items 1, 2 and 4): transaction control and session changes behind `\f`,
 * `\v`, `\r`, dollar quotes with tags, `E''` strings, a server reading
 * strings with `standard_conforming_strings` off, `… AND CHAIN` in every
 * spelling, `PREPARE TRANSACTION`, and SQL a `DO` block builds at run time.
 * The proof is the server's own truth on the next lease of the same session,
 * and for transactions the durability of the next caller's `INSERT`.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, type Handler, type Pool } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

// What the next holder of a session can see of the previous one.
const TRUTH = `SELECT
  current_setting('statement_timeout') AS statement_timeout,
  current_setting('search_path') AS search_path,
  current_setting('standard_conforming_strings') AS scs,
  coalesce(current_setting('local.audit9', true), '') AS local_x,
  (SELECT count(*)::int FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temp_objects,
  pg_backend_pid() AS pid`;

/** Texts one lease runs that change the session: none of it may reach the next lease. */
const SESSION_ATTACKS: [string, string[]][] = [
  ["SET after a form feed and a vertical tab", ["/* x */\f\vSET statement_timeout = 1111"]],
  ["SET after a line comment ended by a lone \\r", [
    "SELECT 1; -- /* \rSET search_path = pg_catalog",
  ]],
  ["SET after a dollar quote with a tag holding $$ and ;", [
    "SELECT $q$ $$ ; $q$; SET statement_timeout = 2222",
  ]],
  ["SET after an E'' string ending in an escaped quote", [
    "SELECT E'\\''; SET statement_timeout = 3333",
  ]],
  ["SET in odd case with \\r\\n inside", ["sEt\r\nSeSsIoN\r\nstatement_timeout\r\nTO 4444"]],
  ["a temporary table by SELECT INTO TEMP named like a keyword", [
    "SELECT 1 AS a INTO TEMP overriding",
  ]],
  ["a temporary table by SELECT INTO TEMPORARY TABLE, quoted name", [
    'SELECT 1 AS a INTO TEMPORARY TABLE "Values"',
  ]],
  ["SET run by a DO block from a concatenated string", [
    "DO $$BEGIN EXECUTE 'SE' || 'T search_path = pg_catalog'; END$$",
  ]],
  ["SET run by a DO block from format()", [
    "DO $$BEGIN EXECUTE format('%sT statement_timeout = 5555', 'SE'); END$$",
  ]],
  ["a temporary table made by a DO block from a concatenated string", [
    "DO $$BEGIN EXECUTE 'CREATE TE' || 'MPORARY TABLE audit9_do_t (a int)'; END$$",
  ]],
  ["a temporary table by SELECT INTO TEMP named values", ["SELECT 1 AS a INTO TEMP values"]],
  ["a setting named local.x (not SET LOCAL)", ["SET local.audit9 = 'leaked'"]],
  ["SET after a string whose next line goes on as an E'' string", [
    "SELECT E'a'\n'\\'' ; SET search_path = pg_catalog; --'",
  ]],
  ["SET after `begin atomic` outside a function (a column and its alias)", [
    "CREATE TEMP VIEW audit9_v AS SELECT begin atomic FROM (SELECT 1 AS begin) s; SET search_path = pg_catalog; END",
  ]],
  ["SET in a DO body a server with standard_conforming_strings off reads outside a string", [
    "BEGIN",
    "SET LOCAL standard_conforming_strings = off",
    "DO $$BEGIN PERFORM 'a\\', '; SET search_path = pg_catalog; --';\nEND$$",
    "COMMIT",
  ]],
  ["a string a server with standard_conforming_strings off reads otherwise", [
    "SET standard_conforming_strings = off",
    "SELECT 'a\\', '; SET statement_timeout = 6666; SELECT 1; --'",
  ]],
];

/** Texts one lease runs that may leave a transaction open. */
const TX_ATTACKS: [string, string[]][] = [
  ["COMMIT WORK AND CHAIN", ["BEGIN", "COMMIT WORK AND CHAIN"]],
  ["END TRANSACTION AND CHAIN behind a line comment ended by \\r", [
    "BEGIN",
    "-- end it;\rEND TRANSACTION AND CHAIN",
  ]],
  ["ABORT AND CHAIN in odd case", ["BEGIN", "aBoRt AnD cHaIn"]],
  ["ROLLBACK TRANSACTION TO SAVEPOINT behind a nested comment", [
    "BEGIN; SAVEPOINT s",
    "/* a /* b; */ c */ ROLLBACK TRANSACTION TO SAVEPOINT s",
  ]],
  ["BEGIN after a dollar quote with a tag", ["SELECT $t$;$t$;\fBEGIN"]],
  ["BEGIN after an E'' string ending in an escaped quote", ["SELECT E'\\'';BEGIN"]],
  ["BEGIN a server with standard_conforming_strings off reads", [
    "SET standard_conforming_strings = off",
    "SELECT 'a\\', '; BEGIN; SELECT 1; --'",
  ]],
];

/** Disguised transaction control a pipelined group must refuse. */
const PIPELINE_REFUSED = [
  "\vBEGIN",
  "/* x */\fbegin",
  "SELECT $a$ $$ ; $a$; BEGIN",
  "SELECT e'\\\\'; START TRANSACTION",
  "END TRANSACTION AND CHAIN",
  "ABORT",
  "PREPARE TRANSACTION 'audit9'",
  "rollback transaction to savepoint s",
  "release s",
  "START/**/TRANSACTION",
  'SELECT U&"\\0061"; BEGIN',
];

function attackSuite(name: string, makeDriver: () => Driver): void {
  describe(`reading SQL under attack over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    const table = `audit9_sql_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
    let next = 0;

    const truth = async (db: Handler) => (await db.query(TRUTH)).rows[0];

    function makePool(autocommit = true, pipeline = false): Pool {
      const pool = createPool({
        db: endpointOf(server),
        groups: { g: { connection_count: 1, autocommit, pipeline } },
        driver: makeDriver(),
      });
      pools.push(pool);
      return pool;
    }

    before(async () => {
      [server] = await sharedServers();
      await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${table} (id int)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
    });

    for (const [what, dirty] of SESSION_ATTACKS) {
      it(`${what}: the next lease of the session finds it clean`, async () => {
        const pool = makePool();
        const clean = await pool.withHandler("g", truth);
        await pool.withHandler("g", async (db) => {
          for (const text of dirty) await db.query(text);
        });
        const seen = await pool.withHandler("g", truth);
        // A session the pool replaced proves nothing about its reset, but leaks nothing either.
        if (seen.pid === clean.pid) assert.deepEqual(seen, clean, JSON.stringify(dirty));
        else assert.deepEqual({ ...seen, pid: clean.pid }, clean, JSON.stringify(dirty));
      });
    }

    for (const autocommit of [true, false]) {
      const kind = autocommit ? "autocommit" : "transactional";
      for (const [what, dirty] of TX_ATTACKS) {
        it(`${kind} group: ${what} leaves no transaction to the next caller`, async () => {
          const pool = makePool(autocommit);
          await pool.withHandler("g", async (db) => {
            for (const text of dirty) await db.query(text).catch(() => {});
          }).catch(() => {});
          const id = ++next;
          await pool.withHandler("g", (db) => db.query(`INSERT INTO ${table} VALUES (${id})`));
          const rows = await adminQuery(server, `SELECT 1 FROM ${table} WHERE id = $1`, [id]);
          assert.equal(rows.length, 1, `the INSERT after ${JSON.stringify(dirty)} was lost`);
        });
      }
    }

    it("pipelined group refuses disguised transaction control and SQL it cannot read", async () => {
      const pool = makePool(true, true);
      const clean = await pool.withHandler("g", truth);
      for (const text of PIPELINE_REFUSED) {
        await assert.rejects(pool.withHandler("g", (db) => db.query(text)), /pipelined/, text);
      }
      const seen = await pool.withHandler("g", truth);
      assert.deepEqual({ ...seen, pid: clean.pid }, clean);
      const id = ++next;
      await pool.withHandler("g", (db) => db.query(`INSERT INTO ${table} VALUES (${id})`));
      const rows = await adminQuery(server, `SELECT 1 FROM ${table} WHERE id = $1`, [id]);
      assert.equal(rows.length, 1);
    });

    it("pipelined group refuses a DO block that runs SQL built at run time", async () => {
      const pool = makePool(true, true);
      const clean = await pool.withHandler("g", truth);
      const text = "DO $$BEGIN EXECUTE 'SE' || 'T search_path = pg_catalog'; END$$";
      await assert.rejects(pool.withHandler("g", (db) => db.query(text)), /pipelined/);
      // No other caller of the shared session may see the change.
      const seen = await pool.withHandler("g", truth);
      assert.deepEqual({ ...seen, pid: clean.pid }, clean);
    });
  });
}

attackSuite("postgres.js", () => postgresjs());
attackSuite("node-postgres", () => nodePostgres());
if (isBun) attackSuite("Bun.SQL", () => bunSql());
