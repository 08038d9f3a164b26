/**
 * `pool.end()` past its grace while `fn` still holds its handler: with a
 * query in flight, or idle and querying after the grace ran out. The query
 * settles once with a typed error (the session is closed under it), the
 * run's end (commit or release through the session's callbacks) meets a
 * session already gone without crashing, nothing escapes, and `end()`
 * resolves. Every driver, autocommit, transactional and pipelined groups.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type Pool, PoolError } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind = "autocommit" | "transactional" | "pipelined";

for (const { name, make } of drivers) {
  describe(`pool.end() past its grace while fn holds its handler, over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    before(async () => {
      [server] = await sharedServers();
    });
    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    for (const kind of ["autocommit", "transactional", "pipelined"] as Kind[]) {
      for (const when of ["a query in flight", "a query after the grace"]) {
        it(`${kind}, ${when}: typed errors, nothing escapes, end() resolves`, {
          timeout: 30_000,
        }, async () => {
          const pool = createPool({
            db: endpointOf(server),
            groups: {
              g: {
                connection_count: 2,
                autocommit: kind !== "transactional",
                pipeline: kind === "pipelined",
              },
            },
            driver: make(),
            endTimeoutMs: 200,
          });
          pools.push(pool);
          const watch = watchEscapes();
          try {
            const queries: unknown[] = [];
            const runs = Array.from({ length: 4 }, (_, i) =>
              pool.withHandler("g", async (db) => {
                await db.query("SELECT 1");
                if (when === "a query in flight") {
                  queries.push(await db.query("SELECT pg_sleep(1.5)").catch((e) => e));
                } else {
                  await sleep(600);
                  queries.push(await db.query(`SELECT ${i} AS n`).catch((e) => e));
                }
                return i;
              }).catch((e) => e));
            await sleep(150);
            await pool.end();
            const outcomes = await Promise.all(runs);
            for (const q of queries) {
              assert.ok(
                q instanceof Error ? q instanceof PoolError : true,
                `a query: ${inspect(q)}`,
              );
            }
            assert.ok(
              queries.some((q) => q instanceof PoolError),
              `some query met the end: ${inspect(queries)}`,
            );
            outcomes.forEach((o, i) =>
              assert.ok(
                o === i || o instanceof PoolError,
                `run ${i}: ${inspect(o)}`,
              )
            );
            await sleep(100);
            assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
          } finally {
            watch.stop();
          }
        });
      }
    }
  });
}
