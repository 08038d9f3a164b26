/**
 * Clock leaps on the fake clock: the housekeeping tick sees the wall clock run
 * ahead of the monotonic one, or arrive far too late, and ages idle entries so
 * they are pinged before their next use; a wall clock set back is no leap.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type PoolConfigInput } from "../../mod.ts";
import { ageForLeap, Housekeeper } from "../../src/core/housekeeper.ts";
import type { PoolEntry } from "../../src/core/resource_pool_types.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { FakeDriver } from "../support/fake_driver.ts";

function watch(clock: FakeClock, periodMs = 1000) {
  const leaps: number[] = [];
  let sweeps = 0;
  const hk = new Housekeeper(clock, periodMs, () => sweeps++, (ms) => leaps.push(ms));
  hk.start();
  return { leaps, sweeps: () => sweeps, hk };
}

function entry(now: number, leased = false): PoolEntry<string> {
  return {
    lastUsed: now,
    busyAt: now,
    expiresAt: now + 60_000,
    leased,
    retire: false,
    resource: "r",
    partition: 0,
  } as unknown as PoolEntry<string>;
}

describe("clock leap detection at the housekeeping tick", () => {
  it("steady ticks are no leap", () => {
    const clock = new FakeClock();
    const w = watch(clock);
    clock.advance(10_000);
    assert.equal(w.sweeps(), 10);
    assert.deepEqual(w.leaps, []);
    w.hk.stop();
  });

  it("the wall clock running ahead of the monotonic one is a leap of the difference", () => {
    const clock = new FakeClock();
    const w = watch(clock);
    clock.stepWall(3_600_000);
    clock.advance(1000);
    assert.deepEqual(w.leaps, [3_600_000]);
    clock.advance(1000);
    assert.deepEqual(w.leaps, [3_600_000], "reported once");
    w.hk.stop();
  });

  it("a tick far later than scheduled (a frozen isolate) is a leap of its lateness", () => {
    const clock = new FakeClock();
    const w = watch(clock);
    clock.freeze(120_000);
    clock.advance(0);
    assert.deepEqual(w.leaps, [119_000]);
    assert.equal(w.sweeps(), 1);
    w.hk.stop();
  });

  it("timer jitter under the tolerance is no leap", () => {
    const clock = new FakeClock();
    const w = watch(clock);
    clock.stepWall(500);
    clock.freeze(1500);
    clock.advance(0);
    assert.deepEqual(w.leaps, []);
    w.hk.stop();
  });

  it("a wall clock set back is no leap", () => {
    const clock = new FakeClock();
    const w = watch(clock);
    clock.stepWall(-3_600_000);
    clock.advance(5000);
    assert.deepEqual(w.leaps, []);
    w.hk.stop();
  });
});

describe("ageForLeap", () => {
  it("idle entries look idle past the ping window; lifetimes end sooner; leased ones keep their idle time", () => {
    const idle = entry(1000);
    const leased = entry(1000, true);
    ageForLeap({ entries: () => [idle, leased], destroy: () => {} }, 5000, 1000);
    assert.equal(idle.lastUsed, -4000);
    assert.equal(idle.busyAt, -4000);
    assert.equal(idle.expiresAt, 56_000);
    assert.equal(leased.lastUsed, 1000);
    assert.equal(leased.expiresAt, 56_000);
  });

  it("a leap shorter than the ping window still makes idle entries suspect", () => {
    const idle = entry(1000);
    ageForLeap({ entries: () => [idle], destroy: () => {} }, 1500, 5000);
    assert.ok(1000 - idle.lastUsed > 5000);
    assert.equal(idle.expiresAt, 59_500, "never later");
  });
});

/** A pool on the fake driver and clock, with the clockleap events it emits. */
function leapingPool(config: Omit<PoolConfigInput, "driver">) {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = createPool({ ...config, driver }, { clock });
  const leaps: number[] = [];
  pool.addEventListener("clockleap", (e) => leaps.push(e.detail.leapMs));
  return { driver, clock, pool, leaps };
}

describe("a pool after a clock leap", () => {
  it("emits clockleap with its size and pings the idle session before its next use", async () => {
    const { driver, clock, pool, leaps } = leapingPool({
      db: [{ host: "a", query_timeout: 0 }],
      groups: { g: { connection_count: 1 } },
      // A one-minute sweep; no idle timeout, so the session stays and is pinged.
      idleTimeoutMs: 0,
      maxLifetimeMs: 36_000_000,
      pingAfterIdleMs: 120_000,
    });
    await pool.withHandler("g", async () => {});
    clock.advance(60_000);
    const pings = () => driver.queries.filter((q) => q.text === "SELECT 1").length;
    await pool.withHandler("g", async () => {});
    assert.equal(pings(), 0, "no ping inside the window");
    clock.stepWall(3_600_000);
    clock.advance(60_000);
    assert.deepEqual(leaps, [3_600_000]);
    await pool.withHandler("g", async () => {});
    assert.equal(pings(), 1, `pinged after the leap: ${driver.queries.map((q) => q.text)}`);
    assert.equal(driver.open.size, 1, "the same session, pinged, not a new one");
    const ending = pool.end();
    clock.advance(60_000);
    await ending;
  });
});

describe("a clock leap reaches every part of the pool", () => {
  it("is seen with no idle timeout, no lifetime and no query timeout (no sweep needed otherwise)", async () => {
    const { driver, clock, pool, leaps } = leapingPool({
      db: [{ host: "a", query_timeout: 0 }],
      groups: { g: { connection_count: 1 } },
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      pingAfterIdleMs: 120_000,
    });
    await pool.withHandler("g", async () => {});
    clock.stepWall(3_600_000);
    clock.advance(60_000);
    assert.deepEqual(leaps, [3_600_000]);
    await pool.withHandler("g", async () => {});
    const pings = driver.queries.filter((q) => q.text === "SELECT 1").length;
    assert.equal(pings, 1, "the idle session is pinged after the leap");
    await pool.end();
  });

  it("ends an endpoint's back-off no later than the leap says: suspended time counts", async () => {
    const { driver, clock, pool } = leapingPool({
      db: [{ host: "a", query_timeout: 0 }, { host: "b", query_timeout: 0 }],
      groups: { g: { connection_count: 3 } },
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      reconnectBaseMs: 30_000,
      reconnectMaxMs: 30_000,
    });
    driver.down.add("b:5432");
    // Two leases at once: the second tries b, which refuses and backs off 30 s.
    await Promise.all([
      pool.withHandler("g", async () => {}),
      pool.withHandler("g", async () => {}),
    ]).catch(() => {});
    assert.equal(pool.stats().endpoints[1].up, false, "b is backing off");
    driver.down.delete("b:5432");
    // An hour of suspend, seen at the next tick; the monotonic clock counts 10 s.
    clock.stepWall(3_600_000);
    clock.advance(10_000);
    const before = driver.connectAttempts.filter((e) => e === "b:5432").length;
    // Three at once: a third session opens, on b unless b is still backing off.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const three = [1, 2, 3].map(() => pool.withHandler("g", () => held));
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    await Promise.all(three);
    const after = driver.connectAttempts.filter((e) => e === "b:5432").length;
    assert.ok(after > before, "b is tried again at once: its back-off ran out during the suspend");
    await pool.end();
  });

  it("retires the idle shared sessions of a pipelined group (they may be dead)", async () => {
    const { driver, clock, pool } = leapingPool({
      db: [{ host: "a", query_timeout: 0 }],
      groups: { p: { connection_count: 1, pipeline: true } },
      idleTimeoutMs: 0,
      maxLifetimeMs: 36_000_000,
    });
    await pool.withHandler("p", (db) => db.query("SELECT 2"));
    const first = driver.sessions[0];
    clock.stepWall(3_600_000);
    clock.advance(60_000);
    await pool.withHandler("p", (db) => db.query("SELECT 2"));
    assert.equal(first.closed, true, "the session idle across the leap was closed");
    assert.equal(driver.sessions.length, 2, "a fresh session served the next caller");
    await pool.end();
  });
});
