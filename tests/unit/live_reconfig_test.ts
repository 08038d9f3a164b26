/**
 * Live reconfiguration on the fake driver and clock: what resize, drain,
 * setEndpoints and a `pass` function do to idle, leased and opening sessions,
 * step by step.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  ConnectionError,
  PASS_FUNCTION_FAILED,
  type PoolConfigInput,
} from "../../mod.ts";
import { FakePools } from "../support/fake_pools.ts";
import { planSwap } from "../../src/reconfig/endpoint_swap.ts";
import { normalizeEndpoints } from "../../src/config/normalize.ts";

const A = { host: "a", port: 5432, user: "u", pass: "secret-a" };
const B = { host: "b", port: 5432, user: "u", pass: "secret-b" };

const pools = new FakePools();
const pool = (groups: PoolConfigInput["groups"], db: PoolConfigInput["db"] = [A]) =>
  pools.make(groups, db);

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => pools.endAll());

describe("pool.resize()", () => {
  it("shrinks: idle sessions above the size close now, leased ones at release", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 3 } });
    const held = await Promise.all([1, 2, 3].map(() => p.lease("g")));
    await held[2].release();
    assert.equal(driver.open.size, 3);
    p.resize("g", 1);
    assert.equal(p.stats().groups.g.max, 1, "stats (and the otel max gauge) follow");
    assert.equal(driver.open.size, 2, "the idle one closes at once");
    await held[0].release();
    assert.equal(driver.open.size, 1, "a released one above the size closes");
    await held[1].release();
    assert.equal(driver.open.size, 1, "the last one stays");
    assert.equal(p.stats().groups.g.idle, 1);
  });

  it("grows: queued callers get new sessions at once", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 1 } });
    const first = await p.lease("g");
    const waiting = [p.lease("g"), p.lease("g")];
    await tick();
    assert.equal(p.stats().groups.g.waiting, 2);
    p.resize("g", 3);
    const got = await Promise.all(waiting);
    assert.equal(driver.open.size, 3);
    for (const h of [first, ...got]) await h.release();
  });

  it("pipelined: sessions above the size with fewest holders retire", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2, pipeline: true } });
    await p.open();
    assert.equal(driver.open.size, 2);
    p.resize("g", 1);
    assert.equal(driver.open.size, 1);
    assert.equal(p.stats().groups.g.max, 1);
    await p.query("SELECT 1", [], { group: "g" });
  });

  it("refuses a size that is not a whole number ≥ 1", () => {
    const { pool: p } = pool({ g: { connection_count: 1 } });
    for (const n of [0, -1, 1.5, NaN, "2" as unknown as number]) {
      assert.throws(() => p.resize("g", n), RangeError);
    }
  });
});

describe("pool.drain()", () => {
  it("replaces every session: idle ones now, leased ones at release", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 3 }, h: { connection_count: 1 } });
    const leased = await p.lease("g");
    const idle = await p.lease("g");
    await idle.release();
    await p.query("SELECT 1", [], { group: "h" });
    const before = new Set(driver.sessions);
    p.drain("g");
    assert.equal(driver.open.size, 2, "the idle session of g closed; h's stays");
    await leased.release();
    assert.equal(driver.open.size, 1, "the leased one closed at release");
    await p.query("SELECT 1", [], { group: "g" });
    assert.equal(driver.sessions.filter((s) => !before.has(s)).length, 1, "a new session opened");
  });

  it("retires a session that was being opened during the drain, after its one use", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2 } });
    driver.hanging.set("a:5432", []);
    const opening = p.lease("g");
    await tick();
    p.drain();
    for (const go of driver.hanging.get("a:5432")!) go();
    driver.hanging.delete("a:5432");
    const h = await opening;
    await h.release();
    assert.equal(driver.open.size, 0);
  });
});

describe("pool.drain() on a pipelined group", () => {
  it("retires shared sessions, the one being opened too, after their holders leave", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2, pipeline: true } });
    const held = await p.lease("g");
    driver.hanging.set("a:5432", []);
    const second = p.lease("g"); // every session busy: one more opens meanwhile
    await tick();
    p.drain("g");
    for (const go of driver.hanging.get("a:5432")!) go();
    driver.hanging.delete("a:5432");
    await (await second).release();
    await tick();
    await held.release();
    await tick();
    assert.equal(driver.open.size, 0, "every session of the drained group closed");
    await p.query("SELECT 1", [], { group: "g" });
    assert.equal(driver.open.size, 1);
  });
});

describe("pass as a function", () => {
  it("is called once per new session, concurrent opens sharing one call", async () => {
    let calls = 0;
    const pass = () => {
      calls++;
      return Promise.resolve("token");
    };
    const { pool: p, driver } = pool({ g: { connection_count: 3 } }, [{ ...A, pass }]);
    assert.equal(calls, 0, "not called before a session is needed");
    await p.open();
    assert.equal(driver.open.size, 3);
    assert.ok(calls >= 1 && calls <= 3, `${calls} calls`);
    assert.deepEqual(driver.sessions.map((s) => s.params.password), ["token", "token", "token"]);
    const before = calls;
    await Promise.all([1, 2, 3].map(() => p.query("SELECT 1", [], { group: "g" })));
    assert.equal(calls, before, "leasing an open session calls nothing");
  });

  it("a throw, a timeout or a non-string is a ConnectionError that shows no password", async () => {
    for (
      const [pass, message] of [
        [() => Promise.reject(new Error("vault down")), /threw/],
        [() => Promise.resolve(7), /type number/],
        [() => new Promise(() => {}), /did not return within 1000 ms/],
        [() => Promise.resolve("se\0cret"), /NUL character/],
      ] as const
    ) {
      const { pool: p, clock } = pool({ g: { connection_count: 1 } }, [{
        ...A,
        pass: pass as () => Promise<string>,
        connect_timeout: 1,
      }]);
      const failed = assert.rejects(p.query("SELECT 1", [], { group: "g" }), (err) => {
        assert.ok(err instanceof ConnectionError);
        assert.equal(err.code, PASS_FUNCTION_FAILED);
        assert.match(err.message, message);
        assert.ok(!err.message.includes("cret"), "the password is not quoted");
        return true;
      });
      await tick();
      clock.advance(1000);
      await failed;
      assert.equal(clock.pendingTimers, 0, "the pass timeout was cleared");
    }
  });
});

describe("pool.setEndpoints()", () => {
  it("moves new sessions to the new endpoint; old ones retire at release", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2 } }, [A]);
    const leased = await p.lease("g");
    const idle = await p.lease("g");
    await idle.release();
    p.setEndpoints([B]);
    assert.equal(driver.open.size, 1, "the idle session on a closed at once");
    const next = await p.lease("g");
    assert.equal(next.endpoint.host, "b");
    await leased.release();
    await next.release();
    assert.deepEqual([...driver.open].map((s) => s.endpoint), ["b:5432"]);
    assert.deepEqual(p.stats().endpoints.map((e) => e.host), ["b"]);
  });

  it("keeps an endpoint whose id and settings stay, with its new password for new sessions", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2 } }, [A]);
    const first = await p.lease("g");
    p.setEndpoints([{ ...A, pass: "rotated" }]);
    assert.equal(driver.open.size, 1, "the kept endpoint's session stays");
    const second = await p.lease("g");
    assert.equal(driver.sessions[1].params.password, "rotated");
    await first.release();
    await second.release();
    assert.equal(driver.open.size, 2);
  });

  it("refuses a list that drops an id a group is bound to, changing nothing", () => {
    const { pool: p } = pool({ g: { connection_count: 1, endpoints: ["a"] } }, [
      { ...A, id: "a" },
      { ...B, id: "b" },
    ]);
    assert.throws(() => p.setEndpoints([{ ...B, id: "b" }]), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /groups\.g\.endpoints/);
      return true;
    });
    assert.deepEqual(p.stats().endpoints.map((e) => e.id), ["a", "b"]);
  });
});

describe("planSwap()", () => {
  it("keeps same id and settings, replaces a changed one, removes the missing", () => {
    const current = normalizeEndpoints([A, B, { ...A, id: "c", host: "c" }]).map((config) => ({
      config,
      removed: false,
    }));
    const next = normalizeEndpoints([{ ...A, pass: "new" }, { ...B, port: 6000, id: "b:5432" }]);
    const plan = planSwap(current, next, []);
    assert.deepEqual([...plan.keep.keys()], [0]);
    assert.deepEqual(plan.add.map((e) => e.port), [6000]);
    assert.deepEqual([...plan.remove].sort(), [1, 2]);
  });
});
