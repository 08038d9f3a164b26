/**
 * Many leases over few sessions, each `fn` doing one of the things users do
 * to a session's shared callbacks: queries in flight together, a server
 * error swallowed or thrown, a query left running after `fn` returns, `fn`
 * throwing with a query in flight, an abort mid-query. Every query carries a
 * marker it must get back (a reply matched to the wrong query, or settled
 * for the wrong holder, shows as a wrong marker or a caller that never
 * settles); every call settles once, nothing escapes, no session stays
 * leased. Every driver, autocommit and transactional.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type Handler, PoolError } from "../../mod.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

for (const { name, make } of drivers) {
  describe(`leases doing what users do to a session's callbacks, over ${name}`, () => {
    const scope = serverScope();

    for (const autocommit of [true, false]) {
      it(`${autocommit ? "autocommit" : "transactional"}: 150 leases over 3 sessions`, {
        timeout: 60_000,
      }, async () => {
        const pool = scope.keep(createPool({
          db: endpointOf(scope.server),
          groups: { g: { connection_count: 3, autocommit } },
          driver: make(),
          pingTimeoutMs: 2_000,
        }));
        const rand = random(autocommit ? 7 : 11);
        const problems: string[] = [];
        let marker = 0;
        // A query that must come back with its own marker.
        const marked = async (db: Handler, sleepMs = 0) => {
          const n = ++marker;
          const text = sleepMs > 0
            ? `SELECT pg_sleep(${sleepMs / 1000}), $1::int AS n`
            : "SELECT $1::int AS n";
          const got = (await db.query<{ n: number }>(text, [n])).rows[0].n;
          if (got !== n) problems.push(`query ${n} got the reply of ${got}`);
          return got;
        };
        const strays: Promise<unknown>[] = [];
        await withoutEscapes(async () => {
          const calls: Promise<unknown>[] = [];
          for (let i = 0; i < 150; i++) {
            const kind = Math.floor(rand() * 6);
            const controller = new AbortController();
            const reason = new Error(`abort ${i}`);
            const call = pool.withHandler("g", async (db) => {
              switch (kind) {
                case 0: // several at once
                  await Promise.all([marked(db), marked(db, 5), marked(db)]);
                  return "ok";
                case 1: // a server error swallowed (the transactional run then fails to commit)
                  await marked(db);
                  await db.query("SELECT 1/0").catch(() => {});
                  return "ok";
                case 2: // a query left running after fn returns
                  await marked(db);
                  strays.push(marked(db, 30).catch((e) => e));
                  return "ok";
                case 3: { // fn throws with a query in flight
                  const inFlight = marked(db, 20).catch((e) => e);
                  strays.push(inFlight);
                  throw new Error(`fn ${i} gives up`);
                }
                case 4: // an abort mid-query
                  setTimeout(() => controller.abort(reason), 5);
                  return await marked(db, 50);
                default:
                  return await marked(db);
              }
            }, { signal: controller.signal }).then(
              (v) => v,
              (err) => {
                const expected = err === reason || (err instanceof Error &&
                  (err.message === `fn ${i} gives up` || err instanceof PoolError));
                if (!expected) problems.push(`call ${i} (kind ${kind}): ${inspect(err)}`);
                return err;
              },
            );
            calls.push(call);
            if (i % 10 === 9) await sleep(5);
          }
          await Promise.all(calls);
          const strayOutcomes = await Promise.all(strays);
          for (const s of strayOutcomes) {
            if (s instanceof Error && !(s instanceof PoolError)) {
              problems.push(`a stray query: ${inspect(s)}`);
            }
          }
          await sleep(100);
          assert.deepEqual(problems, []);
          assert.equal(pool.stats().groups.g.leased, 0);
          const n = await pool.withHandler(
            "g",
            async (db) => (await db.query("SELECT 3 AS n")).rows[0].n,
          );
          assert.equal(n, 3);
        });
      });
    }
  });
}
