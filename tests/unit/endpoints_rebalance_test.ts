import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool } from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { type Built, endAll, RoleDriver, tick } from "./endpoints_support.ts";
import { planMoves } from "../../src/endpoints/rebalance.ts";

const A = { host: "a", port: 5432, name: "app", user: "u" };
const B = { host: "b", port: 5432, name: "app", user: "u" };

const made: Built[] = [];

function setup(count: number) {
  const driver = new RoleDriver();
  const clock = new FakeClock();
  const pool = createPool({
    db: [A, B],
    groups: { g: { connection_count: count } },
    driver,
    pingAfterIdleMs: 60_000,
  }, { clock });
  made.push({ pool, driver, clock });
  return { pool, driver, clock };
}

afterEach(() => endAll(made));

describe("planMoves()", () => {
  it("moves sessions from endpoints above their share to those below it", () => {
    assert.deepEqual(planMoves([10, 0], [0, 1], [{ index: 0, up: true }, { index: 1, up: true }]), {
      moves: 5,
      share: 5,
    });
    assert.deepEqual(
      planMoves([6, 0, 0], [0, 1, 2], [{ index: 0, up: true }, { index: 1, up: true }, {
        index: 2,
        up: true,
      }]),
      { moves: 4, share: 2 },
    );
  });

  it("probes an endpoint not yet up with one session, and moves nothing with one candidate", () => {
    assert.equal(
      planMoves([10, 0], [0, 1], [{ index: 0, up: true }, { index: 1, up: false }]).moves,
      1,
    );
    assert.equal(planMoves([10, 0], [0, 1], [{ index: 0, up: true }]).moves, 0);
    assert.equal(
      planMoves([5, 5], [0, 1], [{ index: 0, up: true }, { index: 1, up: true }]).moves,
      0,
    );
  });
});

describe("Pool rebalancing", () => {
  it("an endpoint back after an outage takes its share within 2 s under steady load, never above connection_count", async () => {
    const { pool, driver, clock } = setup(10);
    driver.fake.down.add("a:5432");
    const round = () =>
      Promise.all(Array.from({ length: 10 }, () => pool.withHandler("g", () => tick())));
    await round();
    const onA = () => pool.stats().endpoints[0].connections;
    assert.equal(pool.stats().endpoints[1].connections, 10);
    assert.equal(onA(), 0);
    driver.fake.down.delete("a:5432");
    const back = clock.now();
    let most = 0;
    while (onA() < 4) {
      await round();
      most = Math.max(most, pool.stats().groups.g.total);
      clock.advance(20);
      assert.ok(clock.now() - back <= 2000, `a holds ${onA()} of 10 sessions 2 s after its return`);
    }
    assert.ok(most <= 10, `the group held ${most} sessions`);
    assert.ok(driver.fake.maxOpen <= 10, `${driver.fake.maxOpen} sessions open at once`);
    // Leases spread again: a serves about half of them.
    const seen = new Map<string, number>();
    for (let i = 0; i < 5; i++) {
      await Promise.all(Array.from({ length: 10 }, () =>
        pool.withHandler("g", async (db) => {
          seen.set(db.endpoint.id, (seen.get(db.endpoint.id) ?? 0) + 1);
          await tick();
        })));
    }
    assert.ok((seen.get("a:5432") ?? 0) >= 15, JSON.stringify([...seen]));
  });

  it("moves nothing while the endpoints are balanced", async () => {
    const { pool, driver, clock } = setup(4);
    for (let r = 0; r < 40; r++) {
      await Promise.all(Array.from({ length: 4 }, () => pool.withHandler("g", () => tick())));
      clock.advance(20);
    }
    assert.equal(driver.fake.sessions.length, 4, "no session was retired");
  });
});
