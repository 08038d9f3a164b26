import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AcquireTimeoutError,
  ConfigError,
  ConnectionError,
  createPool,
  type Pool,
  PoolClosedError,
  PoolError,
} from "../../mod.ts";
import { defaultResponder, FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let pool: Pool;
let driver: FakeDriver;

function setup(count = 2): void {
  driver = new FakeDriver();
  pool = createPool({
    db: [{ host: "a" }, { host: "b" }],
    groups: { fast: { connection_count: count, pipeline: true } },
    driver,
  });
}

afterEach(async () => {
  await pool.end();
  assert.equal(driver.open.size, 0);
});

describe("pipelined group", () => {
  it("shares at most connection_count sessions among many concurrent handlers", async () => {
    setup(2);
    let inFlight = 0;
    let peak = 0;
    driver.respond = async (text, params, s) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return defaultResponder(text, params, s);
    };
    // The first wave opens sessions while it runs; the second spreads over them.
    await Promise.all([1, 2, 3].map(() => pool.withHandler("fast", (db) => db.query("SELECT 1"))));
    const out = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) =>
          pool.withHandler("fast", async (db) => (await db.query("SELECT $1", [i])).rows[0].value),
      ),
    );
    assert.deepEqual(out, Array.from({ length: 100 }, (_, i) => i));
    assert.ok(driver.sessions.length <= 2, `${driver.sessions.length} sessions`);
    assert.ok(peak > 2, "queries overlapped on shared sessions");
    assert.deepEqual(
      new Set(driver.sessions.map((s) => s.endpoint)),
      new Set(["a:5432", "b:5432"]),
    );
    const s = pool.stats().groups.fast;
    assert.equal(s.leased, 0);
    assert.equal(s.acquired, 103);
  });

  it("refuses transactions and session-changing statements with a PoolError naming the group", async () => {
    setup();
    await pool.withHandler("fast", async (db) => {
      for (
        const sql of [
          "BEGIN",
          "commit",
          "SET search_path = x",
          "LISTEN x",
          "SELECT pg_advisory_lock(1)",
        ]
      ) {
        await assert.rejects(
          db.query(sql),
          (err) => err instanceof PoolError && /"fast".*pipelined/.test(err.message),
          sql,
        );
      }
      await assert.rejects(db.commit(), PoolError);
      await assert.rejects(db.rollback(), PoolError);
      assert.throws(() => db.markDirty(), PoolError);
      await db.query("SELECT 1");
    });
    assert.equal(driver.queries.length, 1, "nothing refused reached the server");
  });

  it("drops a broken session and opens another", async () => {
    setup(1);
    await pool.withHandler("fast", (db) => db.query("SELECT 1"));
    await assert.rejects(pool.withHandler("fast", (db) => db.query("KILL")), ConnectionError);
    assert.equal(pool.stats().groups.fast.total, 0);
    await pool.withHandler("fast", (db) => db.query("SELECT 1"));
    assert.equal(driver.sessions.length, 2);
  });

  it("is refused for a transactional group by the config", () => {
    assert.throws(
      () =>
        createPool({
          db: { host: "a" },
          groups: { g: { connection_count: 1, pipeline: true, autocommit: false } },
        }),
      (err) => err instanceof ConfigError && err.path === "groups.g.pipeline",
    );
    setup();
  });

  it("end() closes every shared session and refuses new leases", async () => {
    setup(2);
    await Promise.all([1, 2, 3].map(() => pool.withHandler("fast", (db) => db.query("SELECT 1"))));
    await pool.end();
    assert.equal(driver.open.size, 0);
    await assert.rejects(pool.withHandler("fast", () => 1), PoolClosedError);
  });
});

describe("pipelined group leases", () => {
  let clock: FakeClock;

  function setupClocked(extra: Record<string, unknown> = {}): void {
    driver = new FakeDriver();
    clock = new FakeClock();
    pool = createPool({
      db: [{ host: "a" }, { host: "b" }],
      groups: { fast: { connection_count: 2, pipeline: true } },
      driver,
      ...extra,
    }, { clock });
  }

  function openHangingConnects(): void {
    for (const hang of driver.hanging.values()) for (const go of hang) go();
    driver.hanging.clear();
  }

  it("withHandler() honours timeoutMs while the first session opens, and fn never runs", async () => {
    setupClocked();
    driver.hanging.set("a:5432", []);
    driver.hanging.set("b:5432", []);
    let ran = false;
    const call = pool.withHandler("fast", () => (ran = true), { timeoutMs: 100 });
    await tick();
    assert.equal(pool.stats().groups.fast.waiting, 1);
    clock.advance(100);
    await assert.rejects(
      call,
      (err) => err instanceof AcquireTimeoutError && /"fast".*100 ms.*waiting=1/.test(err.message),
    );
    assert.equal(ran, false);
    const s = pool.stats().groups.fast;
    assert.deepEqual([s.waiting, s.waited, s.timedOut], [0, 1, 1]);
    openHangingConnects();
    await tick();
    assert.equal(await pool.withHandler("fast", () => "served"), "served");
    assert.equal(driver.sessions.length, 1, "the late session was kept and used");
  });

  it("withHandler() rejects with the signal's reason when it aborts during the wait", async () => {
    setupClocked();
    driver.hanging.set("a:5432", []);
    driver.hanging.set("b:5432", []);
    const ac = new AbortController();
    let ran = false;
    const call = pool.withHandler("fast", () => (ran = true), { signal: ac.signal });
    await tick();
    const reason = new Error("gave up");
    ac.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    assert.equal(ran, false);
    assert.equal(pool.stats().groups.fast.waiting, 0);
    openHangingConnects();
    await tick();
  });

  it("reports a pipelined lease held past leakDetectionMs with the caller's stack and no frame of the pool", async () => {
    setupClocked({
      leakDetectionMs: 50,
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      db: [{ host: "a", query_timeout: 0 }, { host: "b", query_timeout: 0 }],
    });
    const leaks: { group: string; stack: string }[] = [];
    pool.addEventListener("leak", (e) => leaks.push((e as CustomEvent).detail));
    const db = await pool.lease("fast");
    clock.advance(100);
    assert.equal(leaks.length, 1);
    assert.equal(leaks[0].group, "fast");
    assert.match(leaks[0].stack, /pipelined_group_test\.ts/);
    const src = new URL("../../src/", import.meta.url);
    for (const line of leaks[0].stack.split("\n")) {
      assert.ok(!line.includes(src.href), `a frame of the pool is shown: ${line}`);
    }
    await db.release();
    assert.equal(clock.pendingTimers, 0);
  });

  it("stats() counts sessions, handlers in flight and leases", async () => {
    setupClocked();
    // Callers that find no session share the first one to open.
    const held = await Promise.all([1, 2, 3].map(() => pool.lease("fast")));
    let s = pool.stats().groups.fast;
    assert.deepEqual([s.leased, s.acquired, s.total, s.waited], [3, 3, 1, 3]);
    // All busy: one more opens in the background while this caller shares.
    held.push(await pool.lease("fast"));
    await tick();
    s = pool.stats().groups.fast;
    assert.deepEqual([s.leased, s.acquired, s.total, s.created], [4, 4, 2, 2]);
    await Promise.all(held.map((db) => db.release()));
    s = pool.stats().groups.fast;
    assert.deepEqual([s.leased, s.idle, s.total], [0, 2, 2]);
  });
});

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
