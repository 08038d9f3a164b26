/**
 * Lifetimes on the fake clock: idleTimeoutMs closes idle sessions,
 * maxLifetimeMs retires sessions (idle ones at once, leased ones at release),
 * all from one pool-wide timer.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, createPool, isConnectionBroken, type Pool } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let driver: FakeDriver;
let clock: FakeClock;
let pool: Pool;

function setup(limits: { idleTimeoutMs: number; maxLifetimeMs: number }, pipeline = false): void {
  driver = new FakeDriver();
  clock = new FakeClock();
  pool = createPool({
    // query_timeout 0: no stall deadline, only the limits under test.
    db: [{ host: "a", query_timeout: 0 }, { host: "b", query_timeout: 0 }],
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
  assert.equal(clock.pendingTimers, 0, "a timer outlived end()");
  assert.equal(clock.pendingIntervals, 0, "the housekeeping interval outlived end()");
});

describe("idleTimeoutMs", () => {
  it("closes sessions idle longer than it, in every group, from one timer for the pool", async () => {
    setup({ idleTimeoutMs: 10_000, maxLifetimeMs: 0 });
    await warm();
    assert.ok(driver.open.size >= 3, `${driver.open.size} sessions`);
    assert.equal(clock.pendingIntervals, 1, "one interval, not one per session");
    assert.equal(clock.pendingTimers, 0, "no timer per session");
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

  it("0 keeps idle sessions; only the pool's tick runs, to see clock leaps", async () => {
    setup({ idleTimeoutMs: 0, maxLifetimeMs: 0 });
    await warm();
    const open = driver.open.size;
    assert.equal(clock.pendingTimers, 0);
    assert.equal(clock.pendingIntervals, 1);
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

describe("a query that never gets a reply", () => {
  function setupStall(pipeline: boolean): { open: () => void } {
    driver = new FakeDriver();
    clock = new FakeClock();
    pool = createPool({
      db: { host: "a", query_timeout: 2000 },
      groups: { g: { connection_count: 2, pipeline } },
      driver,
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
    }, { clock });
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const respond = driver.respond;
    driver.respond = async (text, params, s) => {
      if (text === "SELECT stuck") await opened;
      return respond(text, params, s);
    };
    return { open };
  }

  it("is no stall on a session whose holder lifted statement_timeout", async () => {
    const { open } = setupStall(false);
    const call = pool.withHandler("g", async (db) => {
      await db.query("SET LOCAL statement_timeout = 0");
      return await db.query("SELECT stuck");
    });
    await tick();
    clock.advance(60_000);
    open();
    await call;
    assert.equal(driver.sessions[0].closed, false);
  });

  for (const pipeline of [false, true]) {
    const kind = pipeline ? "pipelined" : "exclusive";

    it(`${kind}: closes the session after query_timeout plus a grace; the caller gets ConnectionError`, async () => {
      setupStall(pipeline);
      let settled = false;
      const call = pool.withHandler("g", (db) => db.query("SELECT stuck")).finally(() =>
        settled = true
      );
      await tick();
      clock.advance(2000);
      await tick();
      assert.equal(settled, false, "not before query_timeout");
      clock.advance(2000); // past the 1 s grace and the sweeps' sampling
      await assert.rejects(
        call,
        (err) => err instanceof ConnectionError && isConnectionBroken(err),
      );
      assert.equal(driver.sessions[0].closed, true);
      assert.equal(await pool.withHandler("g", () => "served"), "served");
    });

    it(`${kind}: a slow query that answers, and a lease with nothing in flight, are left alone`, async () => {
      const { open } = setupStall(pipeline);
      const slow = pool.withHandler("g", (db) => db.query("SELECT stuck"));
      await tick();
      clock.advance(1500);
      open();
      await slow;
      const db = await pool.lease("g");
      clock.advance(60_000);
      await db.query("SELECT 1");
      await db.release();
      assert.equal(driver.sessions.filter((s) => s.closed).length, 0);
    });
  }
});
