/**
 * An abort after every number of microtask turns (issue 9, item 3): the
 * caller's signal fires after 0, 1, 2 … turns of a `withHandler` call that
 * connects, pings an idle session, begins, runs `fn`, commits and releases.
 * The fake driver answers in microtasks, so each turn lands at another
 * `await` of the lease path, including the turns between the ping's answer
 * and `fn`. Whatever the turn: `fn` never starts once the signal aborted, a
 * call rejected with the abort committed nothing, nothing is left
 * unhandled, and the pool ends with no session leased.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { watchEscapes } from "../support/escapes.ts";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function abortAfterTurns(controller: AbortController, turns: number, reason: unknown): void {
  let left = turns;
  const step = () => {
    if (left-- <= 0) controller.abort(reason);
    else queueMicrotask(step);
  };
  step();
}

for (const autocommit of [false, true]) {
  describe(`withHandler() aborted after every microtask turn (${autocommit ? "autocommit" : "transactional"} group)`, () => {
    for (const idle of ["no session yet", "an idle session past the ping window"]) {
      it(`with ${idle}: fn never starts after the abort, nothing is left unhandled`, async () => {
        const watch = watchEscapes();
        const problems: string[] = [];
        let resolved = 0;
        let aborted = 0;
        for (let turns = 0; turns <= 120; turns++) {
          const driver = new FakeDriver();
          const clock = new FakeClock();
          const pool = createPool({
            db: { host: "a" },
            groups: { g: { connection_count: 1, autocommit } },
            driver,
            pingAfterIdleMs: 1000,
          }, { clock });
          if (idle !== "no session yet") {
            await pool.withHandler("g", () => 1);
            clock.advance(5_000);
          }
          const log: string[] = [];
          const controller = new AbortController();
          const reason = new Error(`abort after ${turns} turns`);
          const call = pool.withHandler("g", async (db) => {
            if (controller.signal.aborted) {
              problems.push(`turn ${turns}: fn started after the abort`);
            }
            log.push("fn");
            await db.query("INSERT 1");
            return "done";
          }, { signal: controller.signal });
          abortAfterTurns(controller, turns, reason);
          const outcome = await call.then(() => "resolved", (err: unknown) => err);
          if (outcome === "resolved") resolved++;
          else if (outcome === reason) aborted++;
          else problems.push(`turn ${turns}: rejected with ${inspect(outcome)}`);
          for (let i = 0; i < 3; i++) await tick();
          const g = pool.stats().groups.g;
          if (g.leased !== 0 || g.waiting !== 0) {
            problems.push(`turn ${turns}: stats ${JSON.stringify(g)}`);
          }
          const ending = pool.end();
          clock.advance(60_000);
          await ending;
          if (driver.open.size !== 0) problems.push(`turn ${turns}: sessions left open`);
        }
        for (let i = 0; i < 5; i++) await tick();
        watch.stop();
        assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
        assert.deepEqual(problems, []);
        // The sweep reached past fn: some calls aborted, later ones completed.
        assert.ok(aborted > 0 && resolved > 0, `aborted ${aborted}, resolved ${resolved}`);
      });
    }
  });
}
