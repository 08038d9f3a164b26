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
import { createPool } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { watchEscapes } from "../support/escapes.ts";

async function firstAfterIdle(pipeline: boolean): Promise<{ out: unknown; rejected: number }> {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = createPool({
    db: { host: "a" },
    groups: { g: { connection_count: 1, pipeline, maxWaiting: 0 } },
    driver,
    pingAfterIdleMs: 1000,
    pingTimeoutMs: 5000,
  }, { clock });
  await pool.open();
  clock.advance(5000);
  const out = await pool.withHandler("g", () => "served").catch((e) => e);
  const rejected = pool.stats().groups.g.rejected;
  const ending = pool.end();
  clock.advance(60_000);
  await ending;
  assert.equal(driver.open.size, 0, "sessions left");
  assert.equal(clock.pendingTimers, 0, "timers left");
  return { out, rejected };
}

describe("maxWaiting 0 and the ping before use", () => {
  it("exclusive: the first caller after an idle spell is served once the ping answered", async () => {
    const watch = watchEscapes();
    const { out, rejected } = await firstAfterIdle(false);
    watch.stop();
    assert.equal(out, "served", inspect(out));
    assert.equal(rejected, 0);
    assert.deepEqual(watch.escaped, []);
  });

  it("pipelined: the first caller after an idle spell is served once the ping answered", async () => {
    const watch = watchEscapes();
    const { out, rejected } = await firstAfterIdle(true);
    watch.stop();
    assert.equal(out, "served", inspect(out));
    assert.equal(rejected, 0);
    assert.deepEqual(watch.escaped, []);
  });
});
