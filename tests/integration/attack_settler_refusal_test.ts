/**
 * Values the pool's own check lets through but a client may refuse while it
 * builds the query (`undefined`, a bigint, a `Map`, an array of mixed types),
 * sent while other queries are in flight on the same session: on a pipelined
 * group's shared session and on one handler's concurrent queries. Every
 * caller settles once with a result or a typed error, nothing escapes, no
 * session stays leased, and the pool serves again. A driver's eight cases
 * run at once, each on its own pool.
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, PoolError } from "../../mod.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { caseBatch } from "../support/case_batch.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());

const ODD_VALUES: [string, unknown][] = [
  ["undefined", undefined],
  ["a bigint", 12345678901234567890n],
  ["a Map", new Map([["a", 1]])],
  ["an array of mixed types", [1, "a", null, true]],
];

/** A result, or an error the pool typed. */
const settledWell = (o: unknown) => !(o instanceof Error) || o instanceof PoolError;

for (const { name, make } of drivers) {
  describe(`values a client may refuse mid-flight, over ${name}`, () => {
    const scope = serverScope();

    /** `value` as the 8th of 20 callers on a pipelined group's one shared session. */
    async function amongPipelinedCallers(value: unknown): Promise<void> {
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server),
        groups: { g: { connection_count: 1, autocommit: true, pipeline: true } },
        driver: make(),
      }));
      const outcomes = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            pool.withHandler("g", async (db) =>
              (await db.query<{ v: unknown }>(
                "SELECT pg_sleep(0.02), $1::text AS v",
                [i === 7 ? value : String(i)],
              )).rows[0].v).catch((e) => e),
        ),
      );
      const problems = outcomes
        .map((o, i) => [o, i] as const)
        .filter(([o, i]) =>
          !settledWell(o) || (i !== 7 && !(o instanceof Error) && o !== String(i))
        )
        .map(([o, i]) => `${i}: ${inspect(o)}`);
      assert.deepEqual(problems, []);
      const again = await pool.withHandler(
        "g",
        async (db) => (await db.query("SELECT 1 AS n")).rows[0].n,
      )
        .catch(async () =>
          // The session may have been given up: the next one answers.
          await pool.withHandler("g", async (db) => (await db.query("SELECT 1 AS n")).rows[0].n)
        );
      assert.equal(again, 1);
      assert.equal(pool.stats().groups.g.leased, 0);
    }

    /** `value` as the 5th of one handler's 10 concurrent queries. */
    async function amongConcurrentQueries(value: unknown): Promise<void> {
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server),
        groups: { g: { connection_count: 1, autocommit: true } },
        driver: make(),
        // A reply never settled would hold the release this long.
        pingTimeoutMs: 60_000,
      }));
      const outcomes = await pool.withHandler("g", (db) =>
        Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            db.query<{ v: unknown }>(
              "SELECT pg_sleep(0.02), $1::text AS v",
              [i === 4 ? value : String(i)],
            ).then((r) => r.rows[0].v, (e) => e)),
        ));
      const problems = outcomes
        .map((o, i) => [o, i] as const)
        .filter(([o, i]) =>
          !settledWell(o) || (i !== 4 && !(o instanceof Error) && o !== String(i))
        )
        .map(([o, i]) => `${i}: ${inspect(o)}`);
      assert.deepEqual(problems, []);
      assert.equal(pool.stats().groups.g.leased, 0);
      const n = await pool.withHandler(
        "g",
        async (db) => (await db.query("SELECT 2 AS n")).rows[0].n,
      );
      assert.equal(n, 2);
    }

    // The cases run at once, each on its own pool (their time is the queries' pg_sleep).
    const batch = caseBatch(
      ODD_VALUES.flatMap(([what, value]) => [
        [`${what} among 20 pipelined callers`, () => amongPipelinedCallers(value)] as const,
        [
          `${what} among one handler's 10 concurrent queries`,
          () => amongConcurrentQueries(value),
        ] as const,
      ]),
      50,
    );
    after(() => batch.stop());

    for (const [what] of ODD_VALUES) {
      it(
        `${what} among 20 pipelined callers`,
        { timeout: 30_000 },
        () => batch.check(`${what} among 20 pipelined callers`),
      );

      it(
        `${what} among one handler's 10 concurrent queries`,
        { timeout: 30_000 },
        () => batch.check(`${what} among one handler's 10 concurrent queries`),
      );
    }
  });
}
