/**
 * Every way a reply can end, one after another on a single session whose
 * release would wait a minute for a reply never settled: a result, a server
 * error, several statements, a refused COPY, a value that cannot be sent, a
 * refused first statement behind the pool's BEGIN, a failed COMMIT, an
 * abort. A reply not counted as answered would hold the next caller for the
 * whole wait (the test's timeout is far shorter). Nothing may escape as an
 * unhandled rejection.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type Handler } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One way a run ends; each swallows what it provokes and returns nothing. */
type Step = [string, (db: Handler, table: string) => Promise<unknown>];

const circular: Record<string, unknown> = {};
circular.self = circular;

const STEPS: Step[] = [
  ["a result", (db) => db.query("SELECT 1")],
  ["a server error", (db) => db.query("SELECT 1/0").catch(() => {})],
  ["several statements", (db) => db.query("SELECT 1; SELECT 2")],
  [
    "several statements, the last failing",
    (db) => db.query("SELECT 1; SELECT 1/0").catch(() => {}),
  ],
  ["a refused COPY", (db) => db.query("COPY (SELECT 1) TO STDOUT").catch(() => {})],
  ["a value that cannot be sent", (db) => db.query("SELECT $1::jsonb", [circular]).catch(() => {})],
  ["ten at once, mixed", (db) =>
    Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        db.query(i % 3 === 0 ? "SELECT 1/0" : i % 3 === 1 ? "COPY t TO STDOUT" : "SELECT 1")
          .catch(() => {})),
    )],
  ["a transaction that fails to commit", async (db, table) => {
    await db.query("BEGIN");
    await db.query(`INSERT INTO ${table} VALUES (1)`);
    await db.query("SELECT 1/0").catch(() => {});
    await db.query("COMMIT").catch(() => {});
  }],
];

for (const { name, make } of drivers) {
  describe(`every way a reply ends settles once, over ${name}`, () => {
    const table = `attack_settler_battery_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
    const scope = serverScope({
      async setUp(server) {
        await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${table} (id int)`);
      },
      async tearDown(server) {
        await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
      },
    });

    for (const autocommit of [true, false]) {
      it(`${autocommit ? "autocommit" : "transactional"}: no step holds the session at release`, {
        timeout: 25_000,
      }, async () => {
        const pool = scope.keep(createPool({
          db: endpointOf(scope.server),
          groups: { g: { connection_count: 1, autocommit } },
          driver: make(),
          pingAfterIdleMs: 60_000,
          // A reply never settled would hold each release this long.
          pingTimeoutMs: 60_000,
        }));
        await withoutEscapes(async () => {
          const pids = new Set<unknown>();
          for (let round = 0; round < 3; round++) {
            for (const [what, step] of STEPS) {
              if (!autocommit && what === "a transaction that fails to commit") continue;
              const pid = await pool.withHandler("g", async (db) => {
                await step(db, table);
                return (await db.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
              }).catch((e) => e);
              // The transactional group's run fails to commit after a swallowed server error.
              if (pid instanceof Error && autocommit) assert.fail(`${what}: ${inspect(pid)}`);
              if (!(pid instanceof Error)) pids.add(pid);
            }
            // An abort while a query runs: the session is dropped, not waited for.
            const controller = new AbortController();
            const aborted = pool.withHandler(
              "g",
              (db) => db.query("SELECT pg_sleep(2)"),
              { signal: controller.signal },
            ).catch((e) => e);
            await sleep(50);
            controller.abort(new Error("gave up"));
            assert.equal((await aborted).message, "gave up");
          }
          assert.ok(pids.size >= 1);
          assert.equal(pool.stats().groups.g.leased, 0);
        }, 50);
      });
    }
  });
}
