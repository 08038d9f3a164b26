/**
 * Attack on the pipelined ping before use and `maxWaiting`: callers wait in
 * the group's wait list while the only session is pinged, so a group that
 * allows no waiting refuses the caller that found the session idle, though the
 * session is open and answers. An exclusive group serves that caller after
 * the ping.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { withoutEscapes } from "../support/escapes.ts";
import { endOnClock, fakeRig } from "../support/attack_rig.ts";

async function firstAfterIdle(pipeline: boolean): Promise<{ out: unknown; rejected: number }> {
  const { pool, driver, clock } = fakeRig({}, { pipeline, maxWaiting: 0 });
  await pool.open();
  clock.advance(5000);
  const out = await pool.withHandler("g", () => "served").catch((e) => e);
  const rejected = pool.stats().groups.g.rejected;
  await endOnClock(pool, clock);
  assert.equal(driver.open.size, 0, "sessions left");
  assert.equal(clock.pendingTimers, 0, "timers left");
  return { out, rejected };
}

describe("maxWaiting 0 and the ping before use", () => {
  for (const pipeline of [false, true]) {
    it(
      `${
        pipeline ? "pipelined" : "exclusive"
      }: the first caller after an idle spell is served once the ping answered`,
      () =>
        withoutEscapes(async () => {
          const { out, rejected } = await firstAfterIdle(pipeline);
          assert.equal(out, "served", inspect(out));
          assert.equal(rejected, 0);
        }),
    );
  }
});
