import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMemory, type Memory } from "../../src/threaded/memory.ts";
import { claimRow, freeRow, liveRows, reclaimStale } from "../../src/threaded/rows.ts";
import { addSlots, giveSlot, slotsOf, takeSlot } from "../../src/threaded/slots.ts";
import { firstInLine, inLine, joinLine, leaveLine } from "../../src/threaded/line.ts";

const total = (m: Memory, g = 0) => Atomics.load(m.i32, m.total(g));

describe("shared slots", () => {
  it("takeSlot() stops at the budget and giveSlot() returns one slot", () => {
    const m = createMemory({ budgets: [3], endpoints: 1, secretBytes: 0 });
    const a = claimRow(m, 0)!, b = claimRow(m, 0)!;
    assert.equal(takeSlot(m, 0, a.row, a.token), "taken");
    assert.equal(takeSlot(m, 0, a.row, a.token), "taken");
    assert.equal(takeSlot(m, 0, b.row, b.token), "taken");
    assert.equal(takeSlot(m, 0, b.row, b.token), "full");
    assert.equal(total(m), 3);
    assert.equal(giveSlot(m, 0, a.row, a.token), true);
    assert.deepEqual([total(m), slotsOf(m, 0, a.row), slotsOf(m, 0, b.row)], [2, 1, 1]);
  });

  it("reclaimStale() returns a silent row's slots once; its owner then takes and gives nothing", () => {
    const m = createMemory({ budgets: [4], endpoints: 1, secretBytes: 0 });
    const dead = claimRow(m, 1000)!, live = claimRow(m, 5000)!;
    takeSlot(m, 0, dead.row, dead.token);
    takeSlot(m, 0, dead.row, dead.token);
    takeSlot(m, 0, live.row, live.token);
    assert.equal(reclaimStale(m, live.row, 5000, 3000), 1);
    assert.equal(reclaimStale(m, live.row, 5000, 3000), 0);
    assert.equal(freeRow(m, dead.row, dead.token), false);
    assert.equal(total(m), 1);
    assert.equal(takeSlot(m, 0, dead.row, dead.token), "evicted");
    assert.equal(giveSlot(m, 0, dead.row, dead.token), false);
    assert.equal(total(m), 1);
    assert.equal(liveRows(m), 1);
    // Joining again counts what the isolate still holds, past the budget if need be.
    const again = claimRow(m, 6000)!;
    assert.equal(addSlots(m, 0, again.row, again.token, 2), true);
    assert.equal(total(m), 3);
  });

  it("claimRow() refuses when every row is taken and reuses a freed one", () => {
    const m = createMemory({ budgets: [1], endpoints: 0, secretBytes: 0, rows: 2 });
    const a = claimRow(m, 0)!;
    assert.ok(claimRow(m, 0));
    assert.equal(claimRow(m, 0), undefined);
    assert.equal(freeRow(m, a.row, a.token), true);
    assert.equal(claimRow(m, 0)?.row, a.row);
  });

  it("firstInLine() serves the row that waited longest; leaveLine() counts each row once", () => {
    const m = createMemory({ budgets: [1], endpoints: 0, secretBytes: 0 });
    const a = claimRow(m, 0)!, b = claimRow(m, 0)!, c = claimRow(m, 0)!;
    joinLine(m, 0, b.row, 20);
    joinLine(m, 0, a.row, 30);
    assert.equal(inLine(m, 0), 2);
    assert.deepEqual([a, b, c].map((r) => firstInLine(m, 0, r.row)), [false, true, false]);
    joinLine(m, 0, b.row, 40); // b was served: back of the line
    assert.equal(inLine(m, 0), 2);
    assert.equal(firstInLine(m, 0, a.row), true);
    assert.equal(leaveLine(m, 0, a.row), true);
    assert.equal(leaveLine(m, 0, a.row), false);
    assert.equal(inLine(m, 0), 1);
    // A reclaimed row leaves the line with its slots.
    assert.equal(freeRow(m, b.row, b.token), true);
    assert.equal(inLine(m, 0), 0);
  });

  it("counts every slot once while 4 Workers take and give and another reclaims every row", async () => {
    const budget = 8;
    const m = createMemory({ budgets: [budget], endpoints: 0, secretBytes: 0 });
    const ctl = new SharedArrayBuffer(12);
    const c = new Int32Array(ctl);
    const url = new URL("../integration/fixtures/threaded_slot_churn.ts", import.meta.url).href;
    const start = (role: string) => {
      const w = new Worker(url, { type: "module" });
      const done = new Promise<Record<string, number>>((resolve, reject) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => reject(e);
      });
      w.postMessage({ buffer: m.buffer, ctl, role, ops: 20_000 });
      return { w, done };
    };
    const reclaimer = start("reclaimer");
    const takers = Array.from({ length: 4 }, () => start("taker"));
    try {
      // The reclaimer stops once every taker has finished its operations.
      while (Atomics.load(c, 1) < 4) await new Promise((r) => setTimeout(r, 10));
      Atomics.store(c, 0, 1);
      Atomics.notify(c, 0);
      const { reclaimed } = await reclaimer.done;
      const reports = await Promise.all(takers.map((t) => t.done));
      const held = reports.reduce((n, r) => n + r.held, 0);
      assert.ok(reclaimed > 0, "the reclaimer reclaimed rows");
      assert.ok(reports.some((r) => r.evicted > 0), "takers were evicted and joined again");
      assert.ok(reports.every((r) => r.taken > 0));
      assert.equal(total(m), held);
      for (const r of reports) assert.equal(slotsOf(m, 0, r.row), r.held);
      for (const r of reports) freeRow(m, r.row, r.token);
      assert.equal(total(m), 0);
    } finally {
      for (const t of [reclaimer, ...takers]) t.w.terminate();
    }
  });
});
