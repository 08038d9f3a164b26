/**
 * Live reconfiguration attacked on the fake driver and clock: bad sizes and
 * groups, reconfiguring an ended pool, drain with callers in line and racing
 * end(), setEndpoints with invalid, duplicate and unchanged lists, and `pass`
 * functions that are slow, concurrent or leak a secret in their error.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  ConnectionError,
  PASS_FUNCTION_FAILED,
  type PoolConfigInput,
  UnconfiguredGroupError,
} from "../../mod.ts";
import { FakePools } from "../support/fake_pools.ts";

const A = { host: "a", port: 5432, user: "u", pass: "secret-a" };
const B = { host: "b", port: 5432, user: "u", pass: "secret-b" };

const pools = new FakePools();
const pool = (groups: PoolConfigInput["groups"], db: PoolConfigInput["db"] = [A]) =>
  pools.make(groups, db);

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => pools.endAll(true));

describe("attacks on pool.resize()", () => {
  it("an unknown group is an UnconfiguredGroupError; a bad size names connectionCount", () => {
    const { pool: p } = pool({ g: { connection_count: 2 } });
    assert.throws(() => p.resize("nope", 2), UnconfiguredGroupError);
    for (const n of [0, -3, NaN, 2.5, Infinity, "3" as unknown as number]) {
      assert.throws(() => p.resize("g", n), (err) => {
        assert.ok(err instanceof RangeError);
        assert.match(err.message, /connectionCount/);
        return true;
      });
    }
    assert.equal(p.stats().groups.g.max, 2, "nothing changed");
  });

  it("after end() it is a PoolClosedError, as every other call", async () => {
    const { pool: p } = pool({ g: { connection_count: 2 } });
    await p.end();
    assert.throws(() => p.resize("g", 4), { name: "PoolClosedError" });
    assert.throws(() => p.drain(), { name: "PoolClosedError" });
    assert.throws(() => p.setEndpoints([B]), { name: "PoolClosedError" });
  });
});

describe("attacks on resize() during open()", () => {
  it("shrinking while open() is opening: open() settles, the group keeps the new size", async () => {
    const { pool: p, driver, clock } = pool({ g: { connection_count: 4 } });
    driver.hanging.set("a:5432", []);
    const opening = p.open().then(() => "opened", (err: Error) => err.name);
    await tick();
    p.resize("g", 1);
    for (const go of driver.hanging.get("a:5432")!) go();
    driver.hanging.delete("a:5432");
    for (let i = 0; i < 20; i++) {
      await tick();
      clock.advance(100);
    }
    const outcome = await opening;
    assert.ok(outcome === "opened" || outcome === "OfflineError", outcome);
    await tick();
    assert.equal(driver.open.size, 1, "sessions above the new size stayed open");
  });

  it("growing while open() is opening: every session of the new size ends up open", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 1 } });
    const opening = p.open();
    p.resize("g", 3);
    await opening;
    await p.open();
    assert.equal(driver.open.size, 3);
  });
});

describe("attacks on pool.drain()", () => {
  it("with callers in line: each gets a fresh session, none fails", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2 } });
    const held = await Promise.all([p.lease("g"), p.lease("g")]);
    const old = new Set(driver.sessions);
    const waiting = [1, 2, 3].map(() => p.query("SELECT 1", [], { group: "g" }));
    await tick();
    p.drain("g");
    for (const h of held) await h.release();
    await Promise.all(waiting);
    for (const s of old) assert.ok(!driver.open.has(s), "a drained session stayed open");
    assert.ok(p.stats().groups.g.total <= 2);
  });

  it("racing end(): every session closes, no caller hangs", async () => {
    const { pool: p, driver, clock } = pool({ g: { connection_count: 2 } });
    const held = await p.lease("g");
    const waiting = p.lease("g").then((h) => h.release(), () => {});
    p.drain();
    const ending = p.end();
    await held.release();
    clock.advance(60_000);
    await ending;
    await waiting;
    assert.equal(driver.open.size, 0);
  });
});

describe("attacks on pool.setEndpoints()", () => {
  it("an invalid list is a ConfigError and changes nothing", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2 } });
    await p.query("SELECT 1", [], { group: "g" });
    for (
      const bad of [
        [],
        42,
        "not a url",
        [{ host: "b", port: -1 }],
        [{ ...B, connection_retry_sleep: 1 }],
        [{ ...B, id: "x" }, { ...A, id: "x" }],
      ]
    ) {
      assert.throws(
        () => p.setEndpoints(bad as PoolConfigInput["db"]),
        ConfigError,
        JSON.stringify(bad),
      );
      assert.deepEqual(p.stats().endpoints.map((e) => e.host), ["a"]);
      assert.equal(driver.open.size, 1);
    }
  });

  it("the same list again churns nothing", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 2 } }, [A, B]);
    await p.open();
    const before = driver.sessions.length;
    p.setEndpoints([A, B]);
    p.setEndpoints([{ ...B }, { ...A }]);
    await p.query("SELECT 1", [], { group: "g" });
    assert.equal(driver.sessions.length, before, "a session was replaced");
    assert.equal(driver.open.size, 2);
    assert.equal(p.stats().endpoints.length, 2);
  });
});

describe("attacks on setEndpoints() with callers in line", () => {
  it("a caller whose connect to a removed endpoint fails is served by the new endpoint", async () => {
    const { pool: p, driver } = pool({ g: { connection_count: 1 } }, [A]);
    driver.hanging.set("a:5432", []);
    const waiting = p.query("SELECT 1", [], { group: "g", timeoutMs: 30_000 });
    await tick();
    p.setEndpoints([B]);
    // The old server is gone: the connect in flight fails (a real driver's connect_timeout).
    driver.down.add("a:5432");
    for (const go of driver.hanging.get("a:5432")!) go();
    driver.hanging.delete("a:5432");
    await waiting;
    assert.deepEqual([...driver.open].map((s) => s.endpoint), ["b:5432"]);
  });
});

describe("attacks on pass as a function", () => {
  it("ten sessions opening at once share one slow call", async () => {
    let calls = 0;
    const pass = () => {
      calls++;
      return new Promise<string>((r) => setTimeout(() => r("tok"), 20));
    };
    const { pool: p, driver } = pool({ g: { connection_count: 10 } }, [{ ...A, pass }]);
    const held = await Promise.all(Array.from({ length: 10 }, () => p.lease("g")));
    assert.equal(calls, 1);
    assert.equal(driver.open.size, 10);
    for (const h of held) await h.release();
  });

  it("an error quoting the password, or a function returning an object, never shows it in the message", async () => {
    const secret = "hunter2-very-secret";
    for (
      const pass of [
        () => Promise.reject(new Error(`login with ${secret} refused`)),
        () => Promise.resolve({ password: secret }),
        () => {
          throw secret;
        },
      ]
    ) {
      const { pool: p } = pool({ g: { connection_count: 1 } }, [{
        ...A,
        pass: pass as unknown as () => Promise<string>,
      }]);
      await assert.rejects(p.query("SELECT 1", [], { group: "g" }), (err) => {
        assert.ok(err instanceof ConnectionError);
        assert.equal(err.code, PASS_FUNCTION_FAILED);
        assert.ok(!err.message.includes(secret), err.message);
        assert.ok(!String(err).includes(secret));
        assert.ok(!JSON.stringify(err).includes(secret));
        return true;
      });
    }
  });

  it("a caller's abort wins over a pass function that hangs; the call still ends at connect_timeout", async () => {
    const { pool: p, clock } = pool({ g: { connection_count: 1 } }, [{
      ...A,
      pass: () => new Promise<string>(() => {}),
      connect_timeout: 5,
    }]);
    const ac = new AbortController();
    const reason = new Error("gave up");
    const leased = p.lease("g", { signal: ac.signal });
    await tick();
    ac.abort(reason);
    await assert.rejects(leased, (err) => err === reason);
    const timed = p.lease("g", { timeoutMs: 100 });
    const failed = assert.rejects(timed);
    await tick();
    clock.advance(5000);
    await failed;
    await tick();
    assert.equal(p.stats().groups.g.total, 0, "a slot stayed taken");
  });

  it("a session opened after drain() does not reuse a pass call started before it", async () => {
    let current = "old";
    const later: (() => void)[] = [];
    const pass = () => {
      const value = current; // what the vault said when asked
      return new Promise<string>((r) => later.push(() => r(value)));
    };
    const { pool: p, driver } = pool({ g: { connection_count: 2 } }, [{ ...A, pass }]);
    const first = p.lease("g");
    await tick();
    current = "new"; // rotated: ALTER ROLE … PASSWORD 'new'
    p.drain();
    const second = p.lease("g");
    await tick();
    while (later.length > 0) later.shift()!();
    const held = await Promise.all([first, second]);
    const passwords = driver.sessions.map((s) => s.params.password);
    assert.deepEqual(
      passwords,
      ["old", "new"],
      "the session asked for after drain() logged in with the old password",
    );
    for (const h of held) await h.release();
  });
});
