import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WaiterQueue } from "../../src/core/waiter_queue.ts";
import { backoffDelay } from "../../src/core/backoff.ts";

describe("WaiterQueue", () => {
  it("shift() returns waiters in FIFO order", () => {
    const q = new WaiterQueue<number>();
    for (let i = 0; i < 5; i++) q.push(i);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [
      0,
      1,
      2,
      3,
      4,
      undefined,
    ]);
    assert.equal(q.size, 0);
  });

  it("remove() takes a waiter out of the middle, head or tail, and twice is a no-op", () => {
    const q = new WaiterQueue<string>();
    const a = q.push("a");
    const b = q.push("b");
    const c = q.push("c");
    q.remove(b);
    q.remove(b);
    assert.equal(q.size, 2);
    q.remove(a);
    q.remove(c);
    assert.equal(q.size, 0);
    assert.equal(q.shift(), undefined);
    q.push("d");
    assert.equal(q.shift(), "d");
  });

  it("remove() after shift() leaves the queue intact", () => {
    const q = new WaiterQueue<number>();
    const first = q.push(1);
    q.push(2);
    assert.equal(q.shift(), 1);
    q.remove(first);
    assert.equal(q.size, 1);
    assert.equal(q.shift(), 2);
  });
});

describe("backoffDelay()", () => {
  it("doubles from the base, caps at the max, and jitters between half and all", () => {
    assert.equal(backoffDelay(1, 100, 1000, () => 0), 50);
    assert.equal(backoffDelay(1, 100, 1000, () => 0.5), 75);
    assert.equal(backoffDelay(3, 100, 1000, () => 0), 200);
    assert.equal(backoffDelay(10, 100, 1000, () => 0), 500);
    assert.equal(backoffDelay(1000, 100, 1000, () => 1), 1000);
  });
});
