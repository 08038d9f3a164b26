import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AcquireTimeoutError,
  ConnectionError,
  createPool,
  isRetryable,
  OfflineError,
  type Pool,
} from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { RoleDriver, tick } from "./endpoints_support.ts";
import { classifyConnectFailure, Health } from "../../src/endpoints/health.ts";

const A = { host: "a", port: 5432, name: "app", user: "u", pass: "hunter2" };
const B = { host: "b", port: 5432, name: "app", user: "u", pass: "hunter2" };

let pools: { pool: Pool; driver: RoleDriver; clock: FakeClock }[] = [];

function setup(groups: Record<string, Record<string, unknown>>, db: object[] = [A, B]) {
  const driver = new RoleDriver();
  const clock = new FakeClock();
  const pool = createPool(
    // deno-lint-ignore no-explicit-any
    { db, groups: groups as any, driver, reconnectBaseMs: 250, reconnectMaxMs: 10_000 },
    { clock },
  );
  const made = { pool, driver, clock };
  pools.push(made);
  return made;
}

afterEach(async () => {
  for (const { pool, driver, clock } of pools) {
    const ending = pool.end();
    clock.advance(60_000);
    await ending;
    assert.equal(driver.fake.open.size, 0, "sessions left open");
  }
  pools = [];
});

const refused = () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
const reset = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

describe("classifyConnectFailure()", () => {
  it("tells an outage from a cut handshake and a refused login", () => {
    assert.equal(classifyConnectFailure(refused()), "outage");
    assert.equal(classifyConnectFailure({ code: "CONNECT_TIMEOUT" }), "outage");
    assert.equal(classifyConnectFailure({ code: "57P03" }), "outage");
    assert.equal(classifyConnectFailure(new Error("no code")), "outage");
    assert.equal(classifyConnectFailure({ code: "EPERM" }), "outage");
    assert.equal(classifyConnectFailure({ code: "EHOSTUNREACH" }), "outage");
    assert.equal(classifyConnectFailure(reset()), "handshake");
    assert.equal(classifyConnectFailure({ code: "57P01" }), "handshake");
    assert.equal(
      classifyConnectFailure({ code: "ERR_POSTGRES_SERVER_ERROR", errno: "57P01" }),
      "handshake",
    );
    assert.equal(classifyConnectFailure({ code: "28P01" }), "login");
    assert.equal(
      classifyConnectFailure({ code: "ERR_POSTGRES_SERVER_ERROR", errno: "3D000" }),
      "login",
    );
    assert.equal(
      classifyConnectFailure(
        new ConnectionError("x", "a:1", { reached: true, code: "ECONNRESET" }),
      ),
      "handshake",
    );
    assert.equal(
      classifyConnectFailure(new ConnectionError("x", "a:1", { reached: false })),
      "outage",
    );
    assert.equal(
      classifyConnectFailure(new ConnectionError("x", "a:1", { code: "CONNECTION_CLOSED" })),
      "handshake",
    );
    assert.equal(
      classifyConnectFailure(new ConnectionError("x", "a:1", { reached: true, code: "28000" })),
      "login",
    );
  });
});

describe("Health", () => {
  it("counts one failure per attempt window, however many attempts fail together", () => {
    const h = new Health();
    const backoff = { baseMs: 100, maxMs: 1000 };
    const tickets = Array.from({ length: 50 }, () => h.begin(0));
    for (const t of tickets) h.failed(t, "outage", 0, backoff, "down");
    assert.equal(h.failures, 1);
    assert.equal(h.available(0), false);
    // The probe after the back-off opens the next window.
    const probe = h.begin(100);
    assert.equal(h.available(100), false, "one probe at a time");
    h.failed(probe, "outage", 100, backoff);
    assert.equal(h.failures, 2);
  });

  it("does not back off for cut handshakes that a success interrupts", () => {
    const h = new Health();
    const backoff = { baseMs: 100, maxMs: 1000 };
    for (let t = 0; t < 5_000; t += 100) {
      for (let i = 0; i < 3; i++) h.failed(h.begin(t), "handshake", t, backoff);
      if (t % 500 === 0) h.succeeded(h.begin(t));
    }
    assert.equal(h.up, true, "cuts with successes in between are a live server");
  });

  it("never backs off for a refused login", () => {
    const h = new Health();
    for (let i = 0; i < 10; i++) h.failed(h.begin(0), "login", 0, { baseMs: 100, maxMs: 1000 });
    assert.equal(h.up, true);
  });
});

describe("Pool endpoint health", () => {
  it("50 concurrent failing connects count as one failure", async () => {
    const { pool, driver } = setup({ g: { connection_count: 50 } }, [A]);
    driver.fake.down.add("a:5432");
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => pool.withHandler("g", () => 1)),
    );
    assert.ok(results.every((r) => r.status === "rejected" && r.reason instanceof OfflineError));
    assert.equal(pool.stats().endpoints[0].failures, 1);
  });

  it("serves again within a second of a server's return after a one-second outage under load", async () => {
    const { pool, driver, clock } = setup({ g: { connection_count: 10 } }, [A]);
    driver.fake.down.add("a:5432");
    // Callers every 50 ms, 10 at a time, for one second of outage.
    for (let t = 0; t < 1000; t += 50) {
      await Promise.allSettled(Array.from({ length: 10 }, () => pool.withHandler("g", () => 1)));
      clock.advance(50);
    }
    driver.fake.down.delete("a:5432");
    const back = clock.now();
    for (;;) {
      const r = await Promise.allSettled([pool.withHandler("g", () => 1)]);
      if (r[0].status === "fulfilled") break;
      clock.advance(50);
      assert.ok(clock.now() - back <= 1000, "still offline a second after the server came back");
    }
    assert.ok(pool.stats().endpoints[0].up);
  });

  it("a handshake cut by a running server (ECONNRESET) is retried and backs nothing off", async () => {
    const { pool, driver } = setup({ g: { connection_count: 2 } }, [A]);
    driver.failNext.push(reset);
    assert.equal(await pool.withHandler("g", () => 7), 7);
    const [a] = pool.stats().endpoints;
    assert.equal(a.up, true);
    assert.equal(a.failures, 0);
  });

  it("handshakes cut on every try give a ConnectionError, not OfflineError, and no back-off", async () => {
    const { pool, driver } = setup({ g: { connection_count: 2 } }, [A]);
    driver.failNext.push(
      () => new ConnectionError("terminated", "a:5432", { reached: true, code: "57P01" }),
      () => new ConnectionError("terminated", "a:5432", { reached: true, code: "57P01" }),
    );
    await assert.rejects(pool.withHandler("g", () => 1), (err) => {
      assert.ok(err instanceof ConnectionError && !(err instanceof OfflineError), String(err));
      assert.ok(isRetryable(err));
      return true;
    });
    assert.equal(pool.stats().endpoints[0].up, true);
    assert.equal(await pool.withHandler("g", () => 2), 2);
  });

  it("a refused login is a ConnectionError with the SQLSTATE, not retryable, endpoint not marked down", async () => {
    const { pool, driver } = setup({ g: { connection_count: 2 } });
    const attempts = driver.fake.connectAttempts.length;
    driver.failNext.push(() =>
      Object.assign(new Error('password authentication failed for user "u"'), { code: "28P01" })
    );
    await assert.rejects(pool.withHandler("g", () => 1), (err) => {
      assert.ok(err instanceof ConnectionError, String(err));
      assert.equal(err.code, "28P01");
      assert.equal(isRetryable(err), false);
      assert.ok(!err.message.includes("hunter2"));
      return true;
    });
    assert.equal(driver.fake.connectAttempts.length, attempts + 1, "no other endpoint tried");
    assert.ok(pool.stats().endpoints.every((e) => e.up && e.failures === 0));
  });

  it("a missing database (3D000) from an adapter's ConnectionError is passed on as it is", async () => {
    const { pool, driver } = setup({ g: { connection_count: 2 } });
    const refusal = new ConnectionError('database "app" does not exist', "a:5432", {
      reached: true,
      code: "3D000",
    });
    driver.failNext.push(() => refusal);
    await assert.rejects(pool.withHandler("g", () => 1), (err) => err === refusal);
    assert.ok(pool.stats().endpoints.every((e) => e.up));
  });

  it("rejects with OfflineError naming the group when every endpoint is down", async () => {
    const { pool, driver } = setup({ reports: { connection_count: 2 } });
    driver.fake.down.add("a:5432");
    driver.fake.down.add("b:5432");
    await assert.rejects(pool.withHandler("reports", () => 1), (err) => {
      assert.ok(err instanceof OfflineError);
      assert.match(err.message, /group "reports"/);
      assert.match(err.message, /no endpoint can be reached/);
      assert.match(err.message, /a:5432 \([^)]*ECONNREFUSED/);
      assert.equal((err.cause as { code?: string }).code, "ECONNREFUSED");
      assert.ok(!err.message.includes("hunter2"));
      return true;
    });
  });

  it("a queued caller waits for a release while the group has live sessions, when new connects fail", async () => {
    const { pool, driver, clock } = setup({ g: { connection_count: 2 } }, [A]);
    const held = await pool.lease("g");
    driver.failNext.push(reset, reset);
    let served = false;
    const waiting = pool.withHandler("g", () => (served = true), { timeoutMs: 5000 });
    await tick();
    await tick();
    assert.equal(served, false);
    await held.release();
    await waiting;
    assert.equal(served, true);
    // And an outage: the queue waits for the live session too, until its own timeout.
    const held2 = await pool.lease("g");
    driver.fake.down.add("a:5432");
    const timedOut = pool.withHandler("g", () => 1, { timeoutMs: 100 });
    await tick();
    clock.advance(100);
    await assert.rejects(timedOut, AcquireTimeoutError);
    await held2.release();
  });
});
