/**
 * `pool.stats()` timings on the fake driver and clock: acquire wait, use time
 * and connect time per group and per endpoint, as `{ count, sum, max }` in ms.
 * Use time is counted for one lease in `USE_SAMPLE` (the first included), or
 * for every lease while a sampler (the OpenTelemetry bridge) is attached.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { eventSinkOf } from "../../src/observe/event_target.ts";
import { USE_SAMPLE } from "../../src/observe/observer.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

const A = { host: "a", port: 5432, user: "u", query_timeout: 0 };
const B = { host: "b", port: 5433, user: "u", query_timeout: 0 };

let made: { pool: Pool; driver: FakeDriver; clock: FakeClock }[] = [];

function setup(groups: Record<string, Record<string, unknown>>, db: object[] = [A]) {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = createPool({ db, groups, driver, idleTimeoutMs: 0, maxLifetimeMs: 0 } as never, {
    clock,
  });
  made.push({ pool, driver, clock });
  return { pool, driver, clock };
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

// Lets the pending connects to `endpoint` finish after `ms` of fake time.
async function connectsTake(driver: FakeDriver, clock: FakeClock, endpoint: string, ms: number) {
  await tick();
  clock.advance(ms);
  for (const release of driver.hanging.get(endpoint) ?? []) release();
  driver.hanging.delete(endpoint);
}

afterEach(async () => {
  for (const { pool, driver, clock } of made) {
    const ending = pool.end();
    clock.advance(60_000);
    await ending;
    assert.equal(driver.open.size, 0, "sessions left open");
  }
  made = [];
});

describe("pool.stats() timings", () => {
  it("start at zero for every group and endpoint", () => {
    const { pool } = setup({ g: { connection_count: 1 } }, [A, B]);
    const zero = { count: 0, sum: 0, max: 0 };
    const { groups, endpoints } = pool.stats();
    for (const s of [groups.g, ...endpoints]) {
      assert.deepEqual([s.acquireWaitMs, s.useMs, s.connectMs], [zero, zero, zero]);
    }
  });

  it("count connect time, queue time and use time per group and per endpoint", async () => {
    const { pool, driver, clock } = setup({ g: { connection_count: 1 } });
    // Every lease's use time counts while a sampler is attached.
    const uses: number[] = [];
    const detach = eventSinkOf(pool).attach({
      waited: () => {},
      used: (_, ms) => uses.push(ms),
      connected: () => {},
    });
    driver.hanging.set("a:5432", []);
    const first = pool.lease("g");
    await connectsTake(driver, clock, "a:5432", 40);
    const held = await first;
    clock.advance(100);
    const queued = pool.withHandler("g", () => clock.advance(30));
    await tick();
    clock.advance(20);
    await held.release();
    await queued;
    const g = pool.stats().groups.g;
    assert.deepEqual(g.connectMs, { count: 1, sum: 40, max: 40 });
    // The first lease queued for the session being opened (40 ms), the second behind the first (20 ms).
    assert.deepEqual(g.acquireWaitMs, { count: 2, sum: 60, max: 40 });
    assert.deepEqual(g.useMs, { count: 2, sum: 150, max: 120 });
    assert.deepEqual(uses, [120, 30]);
    detach();
    const a = pool.stats().endpoints[0];
    assert.deepEqual([a.connectMs, a.acquireWaitMs, a.useMs], [
      g.connectMs,
      g.acquireWaitMs,
      g.useMs,
    ]);
  });

  it("do not count a lease served at once as a wait", async () => {
    const { pool } = setup({ g: { connection_count: 2 } });
    await pool.open();
    for (let i = 0; i < 5; i++) await pool.withHandler("g", () => {});
    const g = pool.stats().groups.g;
    assert.equal(g.acquireWaitMs.count, 0);
    assert.equal(g.useMs.count, 1, "the first lease's use time");
    assert.equal(g.connectMs.count, 2);
  });

  it("time the use of one lease in USE_SAMPLE without a sampler, the first one included", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } });
    for (let i = 0; i < 2 * USE_SAMPLE + 1; i++) {
      await pool.withHandler("g", () => clock.advance(i === USE_SAMPLE ? 500 : 10));
    }
    assert.deepEqual(pool.stats().groups.g.useMs, { count: 3, sum: 520, max: 500 });
  });

  it("split per endpoint, while the group's add up over them", async () => {
    const { pool, driver, clock } = setup({ g: { connection_count: 2 } }, [A, B]);
    driver.hanging.set("a:5432", []);
    driver.hanging.set("b:5433", []);
    const both = pool.open();
    await tick();
    clock.advance(10);
    for (const release of driver.hanging.get("a:5432")!) release();
    driver.hanging.delete("a:5432");
    await connectsTake(driver, clock, "b:5433", 25);
    await both;
    const { groups, endpoints } = pool.stats();
    assert.deepEqual(endpoints.map((e) => e.connectMs), [
      { count: 1, sum: 10, max: 10 },
      { count: 1, sum: 35, max: 35 },
    ]);
    assert.deepEqual(groups.g.connectMs, { count: 2, sum: 45, max: 35 });
  });

  it("count a lease that ends with its session dropped as a use too", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } });
    await pool.withHandler("g", async (db) => {
      clock.advance(70);
      await db.query("KILL").catch(() => {});
    });
    assert.deepEqual(pool.stats().groups.g.useMs, { count: 1, sum: 70, max: 70 });
  });

  it("of a pipelined group: connect time and the wait for its first session", async () => {
    const { pool, driver, clock } = setup({ p: { connection_count: 1, pipeline: true } });
    driver.hanging.set("a:5432", []);
    const call = pool.withHandler("p", (db) => db.query("SELECT 2"));
    await connectsTake(driver, clock, "a:5432", 15);
    await call;
    const p = pool.stats().groups.p;
    assert.deepEqual(p.connectMs, { count: 1, sum: 15, max: 15 });
    assert.deepEqual(p.acquireWaitMs, { count: 1, sum: 15, max: 15 });
    assert.equal(p.useMs.count, 0, "a share of a session is not timed");
  });

  it("are a snapshot: changing one does not change the pool's", async () => {
    const { pool } = setup({ g: { connection_count: 1 } });
    await pool.withHandler("g", () => {});
    const s = pool.stats();
    s.groups.g.useMs.count = 99;
    s.endpoints[0].useMs.count = 99;
    assert.equal(pool.stats().groups.g.useMs.count, 1);
    assert.equal(pool.stats().endpoints[0].useMs.count, 1);
  });
});
