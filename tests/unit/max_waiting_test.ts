import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, isRetryable, PoolError, PoolOverloadedError } from "../../mod.ts";
import { normalizeConfig } from "../../src/config/normalize.ts";
import { type PoolEntry, ResourcePool } from "../../src/core/resource_pool.ts";
import { WaitList } from "../../src/core/wait_list.ts";
import { FakeClock } from "../support/fake_clock.ts";

describe("PoolOverloadedError", () => {
  it("names the group, the limit and the state, and is retryable", () => {
    const err = new PoolOverloadedError("reports", 3, "total 1, leased 1, idle 0, waiting 3");
    assert.ok(err instanceof PoolError);
    assert.equal(err.name, "PoolOverloadedError");
    assert.equal(err.group, "reports");
    assert.equal(err.maxWaiting, 3);
    assert.match(err.message, /"reports"/);
    assert.match(err.message, /max_waiting 3/);
    assert.match(err.message, /waiting 3/);
    assert.equal(isRetryable(err), true);
  });
});

interface Res {
  id: number;
}

function makePool(maxWaiting: number) {
  const clock = new FakeClock();
  let next = 0;
  const pool = new ResourcePool<Res>({
    max: 1,
    partitions: 1,
    clock,
    nextPartition: () => 0,
    create: (partition) => Promise.resolve({ resource: { id: next++ }, partition }),
    destroy: () => {},
    maxWaiting,
    overloadedError: () => new PoolOverloadedError("g", maxWaiting, "full"),
    timeoutError: (ms) => new Error(`no resource within ${ms} ms`),
    closedError: () => new Error("closed"),
  });
  return { pool, clock };
}

describe("maxWaiting in the core pool", () => {
  it("with 3 waiting on 1 connection the 5th caller fails at once; a release admits a new waiter", async () => {
    const { pool } = makePool(3);
    const first = await pool.acquire({ timeoutMs: 10_000 });
    const waiters = [1, 2, 3].map(() =>
      pool.acquire({ timeoutMs: 10_000 }) as Promise<PoolEntry<Res>>
    );
    assert.equal(pool.stats().waiting, 3);
    await assert.rejects(Promise.resolve(pool.acquire({ timeoutMs: 10_000 })), PoolOverloadedError);
    assert.equal(pool.stats().rejected, 1);
    assert.equal(pool.stats().waiting, 3);
    pool.release(first);
    const second = await waiters[0]!;
    assert.equal(pool.stats().waiting, 2);
    const fourth = pool.acquire({ timeoutMs: 10_000 }) as Promise<PoolEntry<Res>>;
    assert.equal(pool.stats().waiting, 3);
    assert.equal(pool.stats().rejected, 1);
    await assert.rejects(Promise.resolve(pool.acquire({ timeoutMs: 10_000 })), PoolOverloadedError);
    assert.equal(pool.stats().rejected, 2);
    let held = second;
    for (const w of [waiters[1]!, waiters[2]!, fourth]) {
      pool.release(held);
      held = await w;
    }
    pool.release(held);
    assert.equal(pool.stats().waiting, 0);
    assert.equal(pool.stats().rejected, 2);
  });

  it("maxWaiting 0 never waits, yet an idle resource is still leased", async () => {
    const { pool } = makePool(0);
    const first = await pool.acquire({ timeoutMs: 10_000 });
    await assert.rejects(Promise.resolve(pool.acquire({ timeoutMs: 10_000 })), PoolOverloadedError);
    pool.release(first);
    const again = pool.acquire({ timeoutMs: 10_000 });
    assert.ok(!(again instanceof Promise), "an idle resource is leased synchronously");
    assert.equal(pool.stats().rejected, 1);
  });

  it("a front-of-queue wait is never turned away", async () => {
    const list = new WaitList<number>(
      new FakeClock(),
      () => new Error("timeout"),
      0,
      () => new Error("full"),
    );
    await assert.rejects(list.wait({ timeoutMs: 100 }, false, true), /full/);
    const front = list.wait({ timeoutMs: 100 }, true, false);
    list.resolveNext(7);
    assert.equal(await front, 7);
    assert.equal(list.rejected, 1);
  });
});

describe("max_waiting config", () => {
  const config = (group: Record<string, unknown>) =>
    normalizeConfig({ db: { host: "db1" }, groups: { g: { connection_count: 1, ...group } } })
      .groups.g!;

  it("defaults to unbounded, takes 0, integers and Infinity under both spellings, names a bad value", () => {
    assert.equal(config({}).maxWaiting, Infinity);
    assert.equal(config({ max_waiting: 0 }).maxWaiting, 0);
    assert.equal(config({ maxWaiting: 3 }).maxWaiting, 3);
    assert.equal(config({ max_waiting: Infinity }).maxWaiting, Infinity);
    for (const bad of [-1, 1.5, NaN, "x", -Infinity]) {
      assert.throws(
        () => config({ max_waiting: bad }),
        (err: unknown) =>
          err instanceof ConfigError && err.message.includes("groups.g.max_waiting"),
      );
    }
  });
});
