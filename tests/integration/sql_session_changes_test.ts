/**
 * Reading SQL against real PostgreSQL, session state: fast-check wraps
 * state-changing statements in random comments, whitespace and case, runs
 * them in one lease of a one-session group, and checks the next lease of the
 * same session against the server's truth (settings, role, temporary tables,
 * prepared statements, advisory locks, LISTEN, held cursors).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createPool, type Driver, type Handler, type Pool } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { disguised, type Part, parts } from "../support/sql_disguise.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

// What the next holder of a session can see of the previous one.
const TRUTH = `SELECT
  current_setting('statement_timeout') AS statement_timeout,
  current_setting('search_path') AS search_path,
  current_setting('application_name') AS application_name,
  current_setting('TimeZone') AS time_zone,
  current_setting('default_transaction_read_only') AS read_only,
  current_user::text AS role,
  (SELECT count(*)::int FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temp_objects,
  (SELECT count(*)::int FROM pg_prepared_statements WHERE name LIKE 'sql_prop%') AS prepared,
  (SELECT count(*)::int FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
  (SELECT count(*)::int FROM pg_listening_channels() c WHERE c LIKE 'sql_prop%') AS listening,
  (SELECT count(*)::int FROM pg_cursors WHERE name LIKE 'sql_prop%') AS cursors,
  pg_backend_pid() AS pid`;

const DO_BODY = (body: string): Part[] => [{ k: "DO" }, { v: `$$ ${body} $$` }];

// Each change: the texts one lease runs, in order.
const CHANGES: Part[][][] = [
  [parts("SET statement_timeout = 1234")],
  [parts("SET SESSION statement_timeout TO 4321")],
  [parts("SELECT set_config ( 'application_name' , 'dirty' , false )")],
  [parts("UPDATE pg_settings SET setting = '2345' WHERE name = 'statement_timeout'")],
  [parts("SET TIME ZONE 'Pacific/Auckland'")],
  [parts("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")],
  [parts("SET ROLE pg_monitor")],
  [parts("SELECT set_config ( 'role' , 'pg_monitor' , false )")],
  [parts("SET session_authorization = pg_monitor")],
  [parts("CREATE TEMP TABLE sql_prop_a ( a int )")],
  [parts("EXPLAIN ANALYZE CREATE TEMP TABLE sql_prop_b AS SELECT 1")],
  [parts("SELECT 1 AS a INTO TEMP sql_prop_c")],
  [parts("SET search_path = pg_temp , public"), parts("CREATE TABLE sql_prop_d ( a int )")],
  [
    parts("BEGIN"),
    parts("SET LOCAL search_path = pg_temp"),
    parts("CREATE TABLE sql_prop_e ( a int )"),
    parts("COMMIT"),
  ],
  [parts(
    "SELECT set_config ( 'search_path' , 'pg_temp' , true ) ; CREATE TABLE sql_prop_f ( a int )",
  )],
  [parts("PREPARE sql_prop_p AS SELECT 1")],
  [parts("SELECT pg_advisory_lock ( 4242 )")],
  [parts("LISTEN sql_prop_channel")],
  [parts("DECLARE sql_prop_cursor CURSOR WITH HOLD FOR SELECT 1")],
  [DO_BODY("BEGIN PERFORM set_config('application_name', 'from_do', false); END")],
  [DO_BODY("BEGIN EXECUTE 'SET statement_timeout = 777'; END")],
];

function changeSuite(name: string, makeDriver: () => Driver): void {
  describe(`reading SQL: session changes over ${name}`, () => {
    let server: TestServer;
    let pool: Pool;
    let clean: Record<string, unknown>;

    const truth = async (db: Handler) => (await db.query(TRUTH)).rows[0];

    before(async () => {
      [server] = await sharedServers();
      pool = createPool({
        db: endpointOf(server),
        groups: { g: { connection_count: 1 } },
        driver: makeDriver(),
      });
      clean = await pool.withHandler("g", truth);
    });

    after(() => pool.end());

    it("state changed in disguise never reaches the next lease of the session", async () => {
      let samePid = 0;
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom(...CHANGES), { minLength: 1, maxLength: 3 }).chain((picked) =>
            fc.tuple(
              fc.tuple(...picked.flat().map((stmt) => disguised(stmt))),
              fc.boolean(),
            )
          ),
          async ([texts, oneText]) => {
            runs++;
            const batches = oneText ? [texts.join(";\n")] : texts;
            await pool.withHandler("g", async (db) => {
              // A statement may fail (a role without a privilege, a read-only session): what ran counts.
              for (const text of batches) await db.query(text).catch(() => {});
            });
            const seen = await pool.withHandler("g", truth);
            if (seen.pid === clean.pid) samePid++;
            else clean.pid = seen.pid;
            assert.deepEqual(seen, clean, `after ${JSON.stringify(batches)}`);
          },
        ),
        { numRuns: 150 },
      );
      // Most runs must have checked the same session, or the test proves nothing.
      assert.ok(samePid >= runs / 2, `${samePid} of ${runs} runs kept their session`);
    });
  });
}

changeSuite("postgres.js", () => postgresjs());
changeSuite("node-postgres", () => nodePostgres());
if (isBun) changeSuite("Bun.SQL", () => bunSql());
