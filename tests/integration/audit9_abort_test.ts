/**
 * An abort at every `await` of the lease path, against real PostgreSQL, per
 * driver (issue 9, items 0 and 3): the caller's signal fires after 0, 1, 2 …
 * microtask turns, or after a few milliseconds, while the lease connects,
 * pings an idle session, opens the transaction, runs `fn`, commits and
 * releases. Whatever the moment: `fn` never starts once the signal aborted;
 * a call that rejects with the abort left no row, one that resolved left its
 * row; nothing escapes as an unhandled rejection; no session stays leased.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type Pool } from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Aborts `controller` after `turns` microtask turns. */
function abortAfterTurns(controller: AbortController, turns: number, reason: unknown): void {
  let left = turns;
  const step = () => {
    if (left-- <= 0) controller.abort(reason);
    else queueMicrotask(step);
  };
  step();
}

type GroupKind = "autocommit" | "transactional" | "pipelined";

for (const { name, make: makeDriver } of drivers) {
  describe(`an abort at every await of the lease path over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    const table = `audit9_abort_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
    let next = 0;

    before(async () => {
      [server] = await sharedServers();
      await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${table} (id int)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
    });

    for (const kind of ["autocommit", "transactional", "pipelined"] as GroupKind[]) {
      it(
        `${kind} group: fn never starts after the abort, rows match the outcome, nothing escapes`,
        {
          timeout: 120_000,
        },
        async () => {
          const pool = createPool({
            db: endpointOf(server),
            groups: {
              g: {
                connection_count: 2,
                autocommit: kind !== "transactional",
                pipeline: kind === "pipelined",
              },
            },
            driver: makeDriver(),
            pingAfterIdleMs: 0,
          });
          pools.push(pool);
          const watch = watchEscapes();
          const problems: string[] = [];
          const outcomes = { resolved: 0, aborted: 0, ranAfterAbort: 0 };
          const ids: { id: number; resolved: boolean }[] = [];
          try {
            // Turns cover the synchronous and promise steps; milliseconds cover the round trips.
            const plans: (["turns" | "ms", number])[] = [];
            for (let t = 0; t <= 80; t++) plans.push(["turns", t]);
            for (let ms = 0; ms <= 12; ms++) plans.push(["ms", ms], ["ms", ms + 0.5]);
            for (let round = 0; round < 2; round++) {
              // Round 1 starts with no session (connect on the path), round 2 with idle ones (ping).
              if (round === 1) await sleep(5);
              for (const [how, at] of plans) {
                const id = ++next;
                const controller = new AbortController();
                const reason = new Error(`abort ${how} ${at}`);
                const call = pool.withHandler("g", async (db) => {
                  if (controller.signal.aborted) {
                    outcomes.ranAfterAbort++;
                    problems.push(`fn started after the abort (${how} ${at}, round ${round})`);
                  }
                  await db.query(`INSERT INTO ${table} VALUES (${id})`);
                  return id;
                }, { signal: controller.signal });
                if (how === "turns") abortAfterTurns(controller, at, reason);
                else setTimeout(() => controller.abort(reason), at);
                try {
                  await call;
                  outcomes.resolved++;
                  ids.push({ id, resolved: true });
                } catch (err) {
                  if (err !== reason) problems.push(`${how} ${at}: rejected with ${inspect(err)}`);
                  outcomes.aborted++;
                  ids.push({ id, resolved: false });
                }
              }
            }
            await sleep(300);
          } finally {
            watch.stop();
          }
          const rows = await adminQuery(
            server,
            `SELECT id FROM ${table} WHERE id = ANY(string_to_array($1, ',')::int[])`,
            [ids.map((c) => c.id).join(",")],
          );
          const found = new Set(rows.map((r) => r.id as number));
          for (const c of ids) {
            if (c.resolved && !found.has(c.id)) problems.push(`call ${c.id} resolved, no row`);
            // An autocommit INSERT that answered before the abort is done: that row may stay.
            if (!c.resolved && found.has(c.id) && kind === "transactional") {
              problems.push(`call ${c.id} rejected with the abort, its row committed`);
            }
          }
          const g = pool.stats().groups.g;
          if (g.leased !== 0 || g.waiting !== 0) problems.push(`stats: ${JSON.stringify(g)}`);
          console.log(`[${name}/${kind}] abort sweep: ${JSON.stringify(outcomes)}`);
          assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
          assert.deepEqual(problems, []);
          assert.ok(outcomes.aborted > 0 && outcomes.resolved > 0, JSON.stringify(outcomes));
          // The pool still serves.
          assert.equal(await pool.withHandler("g", () => 7), 7);
        },
      );
    }
  });
}
