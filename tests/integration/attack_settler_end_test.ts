/**
 * `pool.end()` past its grace while `fn` still holds its handler: with a
 * query in flight, or idle and querying after the grace ran out. The query
 * settles once with a typed error (the session is closed under it), the
 * run's end (commit or release through the session's callbacks) meets a
 * session already gone without crashing, nothing escapes, and `end()`
 * resolves. Every driver, autocommit, transactional and pipelined groups;
 * a driver's six cases run at once, each on its own pool.
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, PoolError } from "../../mod.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { until } from "../support/backend_probe.ts";
import { caseBatch } from "../support/case_batch.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind = "autocommit" | "transactional" | "pipelined";
type When = "a query in flight" | "a query after the grace";
const KINDS: Kind[] = ["autocommit", "transactional", "pipelined"];
const WHENS: When[] = ["a query in flight", "a query after the grace"];

for (const { name, make } of drivers) {
  describe(`pool.end() past its grace while fn holds its handler, over ${name}`, () => {
    const scope = serverScope();

    /** `pool.end()` while four runs hold their handlers, on a fresh pool of `kind`. */
    async function endWhileHeld(kind: Kind, when: When): Promise<void> {
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server),
        groups: {
          g: {
            connection_count: 2,
            autocommit: kind !== "transactional",
            pipeline: kind === "pipelined",
          },
        },
        driver: make(),
        endTimeoutMs: 200,
      }));
      const queries: unknown[] = [];
      // Runs past their first query: the next step (the query in flight, or the sleep) is under way.
      let holding = 0;
      const runs = Array.from({ length: 4 }, (_, i) =>
        pool.withHandler("g", async (db) => {
          await db.query("SELECT 1");
          holding++;
          if (when === "a query in flight") {
            queries.push(await db.query("SELECT pg_sleep(1.5)").catch((e) => e));
          } else {
            await sleep(600);
            queries.push(await db.query(`SELECT ${i} AS n`).catch((e) => e));
          }
          return i;
        }).catch((e) => e));
      // Both sessions' runs hold their handlers (a slow first connect is waited for), then end().
      await until(
        () => `2 runs holding a handler (holding: ${holding})`,
        () => holding >= 2,
        { withinMs: 10_000, everyMs: 10 },
      );
      await sleep(50);
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
    }

    // The six cases run at once, each on its own pool (their time is the sleeps).
    const batch = caseBatch(
      KINDS.flatMap((kind) =>
        WHENS.map((when) => [`${kind}, ${when}`, () => endWhileHeld(kind, when)] as const)
      ),
    );
    after(() => batch.stop());

    for (const kind of KINDS) {
      for (const when of WHENS) {
        it(`${kind}, ${when}: typed errors, nothing escapes, end() resolves`, {
          timeout: 30_000,
        }, () => batch.check(`${kind}, ${when}`));
      }
    }
  });
}
