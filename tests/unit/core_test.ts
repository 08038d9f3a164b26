import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WaitList } from "../../src/core/wait_list.ts";
import { type PoolEntry, ResourcePool } from "../../src/core/resource_pool.ts";
import { backoffDelay } from "../../src/core/backoff.ts";
import { sweepPool } from "../../src/core/housekeeper.ts";
import { FakeClock } from "../support/fake_clock.ts";

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

interface Tracked<T> {
  state: "pending" | "resolved" | "rejected";
  value?: T;
  err?: unknown;
}

/** What happened to a (possibly synchronous) result so far, without awaiting it. */
function track<T>(p: T | Promise<T>): Tracked<T> {
  const t: Tracked<T> = { state: "pending" };
  Promise.resolve(p).then(
    (value) => Object.assign(t, { state: "resolved", value }),
    (err) => Object.assign(t, { state: "rejected", err }),
  );
  return t;
}

describe("WaitList", () => {
  function list(clock = new FakeClock()) {
    return new WaitList<string>(clock, (ms) => new Error(`timed out after ${ms} ms`));
  }

  it("resolveNext() serves waiters in FIFO order, and front waiters first", async () => {
    const w = list();
    const a = w.wait({ timeoutMs: 1000 }, false, true);
    const b = w.wait({ timeoutMs: 1000 }, false, true);
    const front = w.wait({ timeoutMs: 1000 }, true, false);
    assert.equal(w.size, 3);
    for (const v of ["1", "2", "3"]) assert.equal(w.resolveNext(v), true);
    assert.deepEqual(await Promise.all([front, a, b]), ["1", "2", "3"]);
    assert.equal(w.resolveNext("nobody"), false);
    assert.equal(w.waited, 2, "the front place was not counted as a wait");
  });

  it("ranked front waiters keep their rank order, whatever order they queue in", async () => {
    const w = list();
    const back = w.wait({ timeoutMs: 1000 }, false, true);
    const third = w.wait({ timeoutMs: 1000 }, 7, false);
    const first = w.wait({ timeoutMs: 1000 }, 2, false);
    const fourth = w.wait({ timeoutMs: 1000 }, 7, false); // a tie: after the earlier one
    const second = w.wait({ timeoutMs: 1000 }, 5, false);
    assert.equal(w.firstRank, 2);
    for (const v of ["1", "2", "3", "4", "5"]) w.resolveNext(v);
    assert.deepEqual(await Promise.all([first, second, third, fourth, back]), [
      "1",
      "2",
      "3",
      "4",
      "5",
    ]);
    assert.equal(w.firstRank, Infinity);
  });

  it("rejects each waiter at its own deadline with one timer for the whole queue", async () => {
    const clock = new FakeClock();
    const w = list(clock);
    const long = track(w.wait({ timeoutMs: 300 }, false, true));
    const short = track(w.wait({ timeoutMs: 100 }, false, true));
    const mid = track(w.wait({ timeoutMs: 200 }, false, true));
    assert.equal(clock.pendingTimers, 1);
    clock.advance(100);
    await tick();
    assert.deepEqual([long.state, short.state, mid.state], ["pending", "rejected", "pending"]);
    assert.match((short.err as Error).message, /after 100 ms/);
    clock.advance(100);
    await tick();
    assert.equal(mid.state, "rejected");
    assert.equal(w.resolveNext("late"), true);
    await tick();
    assert.deepEqual([long.state, long.value], ["resolved", "late"]);
    assert.equal(w.timedOut, 2);
    assert.equal(clock.pendingTimers, 0, "the timer is disarmed when the queue empties");
  });

  it("a wait with `since` counts its deadline from then, and is turned away once it passed", async () => {
    const clock = new FakeClock();
    const w = list(clock);
    const t0 = clock.now();
    clock.advance(100);
    const late = track(w.wait({ timeoutMs: 100, since: t0 }, 1, false));
    const left = track(w.wait({ timeoutMs: 100, since: t0 + 40 }, 1, false));
    await tick();
    assert.match((late.err as Error).message, /after 100 ms/);
    assert.deepEqual([w.size, w.timedOut], [1, 1]);
    clock.advance(40);
    await tick();
    assert.equal(left.state, "rejected", "100 ms after its `since`");
  });

  it("never times out a wait longer than the 32-bit timer limit", () => {
    const clock = new FakeClock();
    const w = list(clock);
    w.wait({ timeoutMs: Infinity }, false, true).catch(() => {});
    assert.equal(clock.pendingTimers, 0);
    w.rejectAll(new Error("done"));
  });

  it("takes an aborted waiter out of any place in the queue, with the signal's reason", async () => {
    const w = list();
    const ac = new AbortController();
    const a = w.wait({ timeoutMs: 1000 }, false, true);
    const b = track(w.wait({ timeoutMs: 1000, signal: ac.signal }, false, true));
    const c = w.wait({ timeoutMs: 1000 }, false, true);
    const reason = new Error("gave up");
    ac.abort(reason);
    await tick();
    assert.equal(b.err, reason);
    assert.equal(w.size, 2);
    w.resolveNext("1");
    w.resolveNext("2");
    assert.deepEqual(await Promise.all([a, c]), ["1", "2"]);
  });

  it("rejects at once when the signal already aborted, without queueing", async () => {
    const w = list();
    const ac = new AbortController();
    ac.abort(new Error("before"));
    await assert.rejects(w.wait({ timeoutMs: 10, signal: ac.signal }, false, true), /before/);
    assert.equal(w.size, 0);
    assert.equal(w.waited, 0);
  });

  it("rejectNext() and rejectAll() reject oldest first and remove their abort listeners", async () => {
    const clock = new FakeClock();
    const w = list(clock);
    const ac = new AbortController();
    const a = track(w.wait({ timeoutMs: 50, signal: ac.signal }, false, true));
    const b = track(w.wait({ timeoutMs: 50 }, false, true));
    const c = track(w.wait({ timeoutMs: 50 }, false, true));
    w.rejectNext(new Error("first"));
    w.rejectAll(new Error("rest"));
    ac.abort(new Error("too late"));
    clock.advance(100);
    await tick();
    assert.deepEqual([a.err, b.err, c.err].map((e) => (e as Error).message), [
      "first",
      "rest",
      "rest",
    ]);
    assert.equal(w.timedOut, 0);
    assert.equal(clock.pendingTimers, 0);
  });
});

interface Res {
  id: number;
}

/** A ResourcePool whose creations the test settles by hand. */
function harness(
  max: number,
  partitions = 1,
  keepsWaiting?: (err: unknown) => boolean,
  maxLifetimeMs = 0,
) {
  const clock = new FakeClock();
  const creates: { partition: number; resolve(): void; reject(err: Error): void }[] = [];
  const destroyed: number[] = [];
  let next = 0;
  let cursor = 0;
  const pool = new ResourcePool<Res>({
    max,
    partitions,
    clock,
    nextPartition: () => cursor++ % partitions,
    create: (partition) =>
      new Promise((resolve, reject) => {
        creates.push({
          partition,
          resolve: () => resolve({ resource: { id: next++ }, partition }),
          reject,
        });
      }),
    keepsWaiting,
    maxLifetimeMs,
    destroy: (r) => destroyed.push(r.id),
    timeoutError: (ms) => new Error(`no resource within ${ms} ms`),
    closedError: () => new Error("closed"),
  });
  return { pool, clock, creates, destroyed };
}

async function leaseNow(pool: ResourcePool<Res>): Promise<PoolEntry<Res>> {
  const got = pool.acquire({ timeoutMs: 1000 });
  assert.ok(!(got instanceof Promise), "expected a synchronous lease");
  return await got;
}

describe("ResourcePool", () => {
  it("acquire() opens lazily, then leases idle entries synchronously", async () => {
    const { pool, creates } = harness(2);
    const first = pool.acquire({ timeoutMs: 1000 });
    assert.ok(first instanceof Promise);
    creates[0].resolve();
    const entry = await first;
    pool.release(entry);
    assert.equal(await leaseNow(pool), entry);
    assert.equal(creates.length, 1);
    const s = pool.stats();
    assert.deepEqual([s.total, s.leased, s.idle, s.acquired, s.created], [1, 1, 0, 2, 1]);
  });

  it("a waiter past its deadline gets the timeout error and leaves the queue", async () => {
    const { pool, clock, creates } = harness(1);
    const held = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    const entry = await held;
    const waiting = track(pool.acquire({ timeoutMs: 250 }));
    assert.equal(pool.stats().waiting, 1);
    clock.advance(249);
    await tick();
    assert.equal(waiting.state, "pending");
    clock.advance(1);
    await tick();
    assert.match((waiting.err as Error).message, /within 250 ms/);
    assert.deepEqual([pool.stats().waiting, pool.stats().timedOut], [0, 1]);
    pool.release(entry);
    assert.equal(pool.stats().idle, 1, "the released entry went idle, not to the gone waiter");
    assert.equal(clock.pendingTimers, 0);
  });

  it("replace() drops the entry and serves the same caller ahead of earlier waiters", async () => {
    const { pool, creates, destroyed } = harness(1);
    const a = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    const entry = await a;
    const waiter = track(pool.acquire({ timeoutMs: 1000 }));
    const replaced = track(pool.replace(entry, { timeoutMs: 1000 }));
    assert.deepEqual(destroyed, [entry.resource.id]);
    assert.equal(creates.length, 2);
    creates[1].resolve();
    await tick();
    assert.equal(replaced.state, "resolved", "the replacing caller is served first");
    assert.equal(waiter.state, "pending");
    pool.release(replaced.value!);
    await tick();
    assert.equal(waiter.state, "resolved");
  });

  it("replace() with ranks serves the callers it sent back in rank order", async () => {
    const { pool, creates } = harness(2);
    const a = pool.acquire({ timeoutMs: 1000 });
    const b = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    creates[1].resolve();
    const [ea, eb] = [await a, await b];
    const waiter = track(pool.acquire({ timeoutMs: 1000 }));
    // The younger caller (rank 2) is sent back first, the older one (rank 1) after it.
    const younger = track(pool.replace(eb, { timeoutMs: 1000 }, "broken", 2));
    const older = track(pool.replace(ea, { timeoutMs: 1000 }, "broken", 1));
    creates[2].resolve();
    await tick();
    assert.deepEqual([older.state, younger.state, waiter.state], [
      "resolved",
      "pending",
      "pending",
    ]);
    creates[3].resolve();
    await tick();
    assert.deepEqual([younger.state, waiter.state], ["resolved", "pending"]);
    pool.release(older.value!);
    await tick();
    assert.equal(waiter.state, "resolved");
  });

  it("handOver() passes a leased entry to an older caller sent back, never to a younger one", async () => {
    const { pool, creates } = harness(2);
    const a = pool.acquire({ timeoutMs: 1000 });
    const b = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    creates[1].resolve();
    const [ea, eb] = [await a, await b];
    const back = track(pool.acquire({ timeoutMs: 1000 }));
    assert.equal(pool.handOver(eb, 1), false, "a caller queued at the back ranks after every rank");
    const sentBack = track(pool.replace(ea, { timeoutMs: 1000 }, "broken", 3));
    assert.equal(pool.handOver(eb, 2), false, "the waiter is younger");
    assert.equal(pool.handOver(eb, 4), true);
    await tick();
    assert.equal(sentBack.value, eb);
    assert.deepEqual([pool.stats().leased, pool.stats().waiting, back.state], [1, 1, "pending"]);
    creates[2].resolve();
    await tick();
    assert.equal(
      back.state,
      "resolved",
      "the opening started for the sent-back caller serves the next",
    );
  });

  it("a caller waiting for a new resource takes a released one first; the new one goes idle", async () => {
    const { pool, creates } = harness(2);
    const a = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    const held = await a;
    const b = track(pool.acquire({ timeoutMs: 1000 })); // opens a second one, which hangs
    assert.equal(creates.length, 2);
    pool.release(held);
    await tick();
    assert.equal(b.value, held, "served by the release");
    creates[1].resolve();
    await tick();
    assert.deepEqual([pool.stats().idle, pool.stats().total], [1, 2]);
  });

  it("serves from another partition at once and opens the rotation's one in the background", async () => {
    const { pool, creates } = harness(2, 2);
    const a = pool.acquire({ timeoutMs: 1000 }); // partition 0
    creates[0].resolve();
    pool.release(await a);
    const got = pool.acquire({ timeoutMs: 1000 }); // partition 1 has none: take 0's
    assert.ok(!(got instanceof Promise));
    assert.equal(got.partition, 0);
    assert.deepEqual(creates.map((c) => c.partition), [0, 1]);
    creates[1].resolve();
    await tick();
    assert.deepEqual([pool.stats().idle, pool.stats().leased], [1, 1]);
    pool.release(got);
  });

  it("a failed opening reaches the oldest waiter when nothing else can serve it", async () => {
    const { pool, creates } = harness(2);
    const a = track(pool.acquire({ timeoutMs: 1000 }));
    creates[0].reject(new Error("refused"));
    await tick();
    assert.match((a.err as Error).message, /refused/);
    assert.equal(pool.stats().createFailed, 1);
    assert.equal(pool.stats().total, 0);
  });

  it("a waiter the owner keeps stays in line for a release after a failed opening", async () => {
    const { pool, creates } = harness(2, 1, (err) => (err as Error).message !== "login refused");
    const a = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    const held = await a;
    const b = track(pool.acquire({ timeoutMs: 1000 }));
    creates[1].reject(new Error("handshake cut"));
    await tick();
    assert.equal(b.state, "pending", "a session is out: wait for it");
    pool.release(held);
    await tick();
    assert.equal(b.value, held);
    const c = track(pool.acquire({ timeoutMs: 1000 }));
    creates[2].reject(new Error("login refused"));
    await tick();
    assert.match((c.err as Error).message, /login refused/, "the owner's verdict: fail it");
    pool.release(b.value!);
  });

  it("close() rejects waiters, destroys idle entries and gives leased ones the grace period", async () => {
    const { pool, clock, creates, destroyed } = harness(2);
    const a = pool.acquire({ timeoutMs: 1000 });
    const b = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    creates[1].resolve();
    const [held, idle] = await Promise.all([a, b]);
    pool.release(idle);
    const full = track(pool.acquire({ timeoutMs: 1000 }));
    const fuller = track(pool.acquire({ timeoutMs: 1000 }));
    await tick();
    const closing = track(pool.close(500));
    await tick();
    assert.deepEqual([full.state, fuller.state], ["resolved", "rejected"]);
    pool.release(full.value!);
    assert.deepEqual(destroyed.sort(), [idle.resource.id], "the idle one at once");
    assert.throws(() => pool.acquire({ timeoutMs: 1 }), /closed/);
    clock.advance(499);
    await tick();
    assert.equal(closing.state, "pending", "held is still out");
    clock.advance(1);
    await tick();
    assert.equal(closing.state, "resolved");
    assert.ok(destroyed.includes(held.resource.id), "destroyed after the grace period");
    assert.equal(pool.stats().total, 0);
    assert.equal(clock.pendingTimers, 0);
    pool.release(held);
    assert.equal(pool.stats().leased, 0);
  });

  it("close() ends as soon as the last leased entry comes back", async () => {
    const { pool, clock, creates, destroyed } = harness(1);
    const a = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    const held = await a;
    const closing = track(pool.close(60_000));
    await tick();
    assert.equal(closing.state, "pending");
    pool.release(held);
    await tick();
    assert.equal(closing.state, "resolved");
    assert.deepEqual(destroyed, [held.resource.id]);
    assert.equal(clock.pendingTimers, 0);
  });

  it("release() of an entry marked retire destroys it and opens one for a waiter", async () => {
    const { pool, creates, destroyed } = harness(1);
    const a = pool.acquire({ timeoutMs: 1000 });
    creates[0].resolve();
    const held = await a;
    const waiter = track(pool.acquire({ timeoutMs: 1000 }));
    held.retire = true;
    pool.release(held);
    assert.deepEqual(destroyed, [held.resource.id]);
    creates[1].resolve();
    await tick();
    assert.notEqual(waiter.value, held);
    assert.equal(waiter.state, "resolved");
  });
});

describe("sweepPool()", () => {
  it("gives each entry a lifetime jittered between 90% and 100% of maxLifetimeMs", async () => {
    const { pool, creates } = harness(20, 1, undefined, 1000);
    const leases = Array.from({ length: 20 }, () => pool.acquire({ timeoutMs: 1000 }));
    creates.forEach((c) => c.resolve());
    const entries = await Promise.all(leases);
    const ages = entries.map((e) => e.expiresAt - e.createdAt);
    assert.ok(ages.every((age) => age >= 900 && age <= 1000), ages.join());
    assert.ok(new Set(ages).size > 1, "not all the same");
    entries.forEach((e) => pool.release(e));
  });

  it("destroys idle entries past their idle time or lifetime, marks leased ones to retire", async () => {
    const { pool, clock, creates, destroyed } = harness(3, 1, undefined, 10_000);
    const leases = [1, 2, 3].map(() => pool.acquire({ timeoutMs: 1000 }));
    creates.forEach((c) => c.resolve());
    const [a, b, c] = await Promise.all(leases);
    pool.release(a);
    clock.advance(5_000);
    sweepPool(pool, clock.now(), 4_000);
    assert.deepEqual(destroyed, [a.resource.id], "idle past 4 s");
    assert.equal(b.busyAt, clock.now(), "a leased entry is seen busy");
    clock.advance(6_000);
    sweepPool(pool, clock.now(), 0);
    assert.deepEqual([b.retire, c.retire], [true, true], "past its lifetime, still leased");
    pool.release(b);
    assert.deepEqual(destroyed, [a.resource.id, b.resource.id], "retired at release");
    pool.release(c);
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
