/**
 * Attack on a pipelined group under a threaded pool's budget, in one isolate
 * on the fake driver and clock: a member's caller needs the only slot, which
 * the main pool holds with an idle session (pinged before use or not). An
 * exclusive group gives the slot up (its idle session is shed); a pipelined
 * group must too.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type PoolHandle } from "../../mod.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { fakeRig, tick } from "../support/attack_rig.ts";

async function memberAfterMainIdle(pipeline: boolean, pingAfterIdleMs: number) {
  const { pool: main, driver, clock } = fakeRig(
    { type: "threaded", pingAfterIdleMs, acquireTimeoutMs: 3000 },
    { pipeline },
  );
  const member = createPool(main.share() as PoolHandle, { clock, driver } as never);
  await main.withHandler("g", () => 1);
  clock.advance(2000);
  const got = member.withHandler("g", (db) => db.query("SELECT $1", [1]).then(() => "served"))
    .catch((e) => e);
  // Well within the member's 3000 ms timeout.
  for (let i = 0; i < 20; i++) {
    await tick();
    clock.advance(100);
  }
  const out = await Promise.race([got, tick().then(() => "still waiting")]);
  clock.advance(5000);
  await got;
  const ending = Promise.all([member.end(), main.end()]);
  clock.advance(60_000);
  await ending;
  assert.equal(driver.open.size, 0, "sessions left");
  assert.equal(clock.pendingTimers, 0, "timers left");
  return out;
}

describe("threaded budget: a member's caller and the main pool's idle session", () => {
  it("exclusive: the idle session is shed, the member's caller is served", () =>
    withoutEscapes(async () => {
      const out = await memberAfterMainIdle(false, 600_000);
      assert.equal(out, "served", inspect(out));
    }));

  for (const ping of [600_000, 1000]) {
    it(
      `pipelined (pingAfterIdleMs ${ping}): the idle session is shed, the member's caller is served`,
      () =>
        withoutEscapes(async () => {
          const out = await memberAfterMainIdle(true, ping);
          assert.equal(out, "served", inspect(out));
        }),
    );
  }
});
