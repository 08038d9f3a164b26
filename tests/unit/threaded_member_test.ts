import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMemory } from "../../src/threaded/memory.ts";
import { Member } from "../../src/threaded/member.ts";
import { slotsOf } from "../../src/threaded/slots.ts";
import { liveRows } from "../../src/threaded/rows.ts";
import type { BudgetUser } from "../../src/core/resource_pool_types.ts";
import { Health } from "../../src/endpoints/health.ts";
import { shareHealth } from "../../src/threaded/shared_health.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** A pool as a budget sees it: `held` sessions, `waiting` callers. */
function user(
  held = 0,
  waiting = 0,
): BudgetUser & { held: () => number; state: { held: number; waiting: number } } {
  const state = { held, waiting };
  return {
    state,
    waiting: () => state.waiting,
    held: () => state.held,
    opening: () => 0,
    refill: () => {},
    shed: () => false,
  };
}

describe("Member", () => {
  it("a silent isolate's row is reclaimed; if it was alive it joins again and counts its sessions once", () => {
    let now = 10_000;
    const memory = createMemory({ budgets: [4], endpoints: 0, secretBytes: 0 });
    const opts = { now: () => now, heartbeatMs: 1e9, staleMs: 1000 };
    const a = new Member(memory, opts), b = new Member(memory, opts);
    try {
      const ua = user();
      a.budgets[0].attach(ua);
      b.budgets[0].attach(user());
      assert.equal(a.budgets[0].tryTake(), true);
      assert.equal(a.budgets[0].tryTake(), true);
      ua.state.held = 2;
      now += 1500;
      b.tick(); // a has not beaten for 1.5 s: its row and its 2 slots go back
      assert.equal(b.budgets[0].stats().total, 0);
      assert.equal(liveRows(memory), 1);
      const lost = a.row();
      a.tick(); // a was alive: new row, its 2 sessions counted there
      assert.notEqual(a.row().token, lost.token);
      assert.deepEqual([a.budgets[0].stats().total, slotsOf(memory, 0, a.row().row)], [2, 2]);
      a.budgets[0].give();
      a.budgets[0].give();
      assert.equal(a.budgets[0].stats().total, 0);
    } finally {
      a.leave();
      b.leave();
    }
  });

  it("leave() returns the row and whatever it still counts", () => {
    const memory = createMemory({ budgets: [2], endpoints: 0, secretBytes: 0 });
    const a = new Member(memory, { heartbeatMs: 1e9 });
    const b = new Member(memory, { heartbeatMs: 1e9 });
    a.budgets[0].attach(user());
    b.budgets[0].attach(user());
    a.budgets[0].tryTake();
    assert.equal(b.budgets[0].stats().total, 1);
    a.leave();
    assert.equal(b.budgets[0].stats().total, 0);
    b.leave();
  });

  it("an endpoint backed off in one isolate is adopted by another on its next wake-up", () => {
    const memory = createMemory({ budgets: [1], endpoints: 2, secretBytes: 0 });
    const a = new Member(memory, { heartbeatMs: 1e9 }),
      b = new Member(memory, { heartbeatMs: 1e9 });
    try {
      const clock = new FakeClock();
      const ha = [new Health(), new Health()], hb = [new Health(), new Health()];
      shareHealth(a, ha, clock);
      shareHealth(b, hb, clock);
      const backoff = { baseMs: 5000, maxMs: 5000 };
      ha[1].failed(ha[1].begin(clock.now()), "outage", clock.now(), backoff, "refused");
      b.wake();
      assert.deepEqual([hb[0].up, hb[1].up], [true, false]);
      assert.equal(hb[1].available(clock.now()), false);
      clock.advance(5000);
      assert.equal(hb[1].available(clock.now()), true);
      // A probe that succeeds anywhere brings it back everywhere.
      ha[1].succeeded(ha[1].begin(clock.now()));
      b.wake();
      assert.equal(hb[1].up, true);
    } finally {
      a.leave();
      b.leave();
    }
  });
});
