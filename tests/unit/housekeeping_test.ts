/**
 * Lifetimes on the fake clock: idleTimeoutMs closes idle sessions,
 * maxLifetimeMs retires sessions (idle ones at once, leased ones at release),
 * all from one pool-wide timer.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let driver: FakeDriver;
let clock: FakeClock;
let pool: Pool;

function setup(limits: { idleTimeoutMs: number; maxLifetimeMs: number }, pipeline = false): void {
  driver = new FakeDriver();
  clock = new FakeClock();
  pool = createPool({
    db: [{ host: "a" }, { host: "b" }],
    groups: {
      g1: { connection_count: 2, pipeline },
      g2: { connection_count: 2 },
    },
    driver,
    ...limits,
  }, { clock });
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Opens two sessions in each group and leaves them idle. */
async function warm(): Promise<void> {
  for (const g of ["g1", "g2"]) {
    await Promise.all([1, 2].map(() => pool.withHandler(g, () => tick())));
  }
}

afterEach(async () => {
  const ending = pool.end();
  clock.advance(60_000);
  await ending;
  assert.equal(driver.open.size, 0, "sessions left open");
  assert.equal(clock.pendingTimers, 0, "the housekeeping timer outlived end()");
});

describe("idleTimeoutMs", () => {
  it("closes sessions idle longer than it, in every group, from one timer for the pool", async () => {
    setup({ idleTimeoutMs: 10_000, maxLifetimeMs: 0 });
    await warm();
    assert.ok(driver.open.size >= 3, `${driver.open.size} sessions`);
    assert.equal(clock.pendingTimers, 1, "one timer, not one per session");
    clock.advance(9_000);
    assert.ok(driver.open.size >= 3, "not yet");
    clock.advance(2_000);
    assert.equal(driver.open.size, 0);
    assert.equal(pool.stats().groups.g1.total + pool.stats().groups.g2.total, 0);
    assert.equal(await pool.withHandler("g2", () => "reopened"), "reopened");
  });

  it("counts idle time from the end of a long lease, not from its start", async () => {
    setup({ idleTimeoutMs: 10_000, maxLifetimeMs: 0 });
    const db = await pool.lease("g2");
    clock.advance(15_000);
    await db.release();
    clock.advance(1_500);
    assert.equal(driver.open.size, 1, "just released: still open");
    clock.advance(10_000);
    assert.equal(driver.open.size, 0);
  });

  it("0 keeps idle sessions and arms no timer", async () => {
    setup({ idleTimeoutMs: 0, maxLifetimeMs: 0 });
    await warm();
    const open = driver.open.size;
    assert.equal(clock.pendingTimers, 0);
    clock.advance(24 * 3_600_000);
    assert.equal(driver.open.size, open);
  });

  it("closes a pipelined group's sessions that no handler shares", async () => {
    setup({ idleTimeoutMs: 10_000, maxLifetimeMs: 0 }, true);
    const held = await pool.lease("g1");
    await pool.withHandler("g1", () => tick()); // all busy: a second session opens
    await tick();
    assert.equal(pool.stats().groups.g1.total, 2);
    clock.advance(12_000);
    const s = pool.stats().groups.g1;
    assert.equal(s.total, 1, "the shared one stays while held");
    await held.release();
    clock.advance(12_000);
    assert.equal(pool.stats().groups.g1.total, 0);
  });
});

describe("maxLifetimeMs", () => {
  it("retires an idle session once past its age, jittered by at most 10% down", async () => {
    setup({ idleTimeoutMs: 0, maxLifetimeMs: 100_000 });
    await pool.withHandler("g2", () => 1);
    clock.advance(89_000);
    assert.equal(driver.open.size, 1, "not before 90% of its lifetime");
    clock.advance(100_000 - 89_000 + 10_000); // past its age, plus one sweep period
    assert.equal(driver.open.size, 0);
    assert.equal(pool.stats().groups.g2.destroyed, 1);
  });

  it("never interrupts a lease: a session past its age is retired at release", async () => {
    setup({ idleTimeoutMs: 0, maxLifetimeMs: 10_000 });
    const db = await pool.lease("g2");
    clock.advance(30_000);
    await db.query("SELECT 1");
    assert.equal(driver.open.size, 1, "still serving its holder");
    await db.release();
    assert.equal(driver.open.size, 0, "retired at release");
    const pid = await pool.withHandler("g2", async (h) => (await h.query("SELECT 1")).rows[0].pid);
    assert.equal(pid, driver.sessions[1].pid, "the next caller gets a new session");
  });
});
