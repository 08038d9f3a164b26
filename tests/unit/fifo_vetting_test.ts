/**
 * FIFO through the ping before use: a caller whose idle session fails its ping
 * waits for a replacement, and no younger caller may be served before it, even
 * one whose own ping was in flight at the time and then passed; nor does it
 * wait longer than its timeout from its call. The cases the pool model test
 * found (seed 1867325344 and others), on the fake clock and fake driver.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { AcquireTimeoutError, createPool, type Handler, type Pool } from "../../mod.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

const A = { host: "a", port: 5432, user: "u", pass: "pw", query_timeout: 0 };

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

interface Setup {
  pool: Pool;
  driver: FakeDriver;
  clock: FakeClock;
  /** Sessions whose next ping fails (the server is gone). */
  broken: Set<FakeSession>;
  /** Sessions whose next ping answers only when the test says how (`true`: it passes). */
  gated: Map<FakeSession, ((ok: boolean) => void) | undefined>;
}

let made: Setup[] = [];

afterEach(async () => {
  for (const { pool, clock, gated } of made) {
    for (const answer of gated.values()) answer?.(false);
    const ending = pool.end();
    clock.advance(1_000_000);
    await ending;
  }
  made = [];
});

/** A group of `count` sessions, all opened, idle for 1 ms (pinged before use), the endpoint then down. */
async function setup(count: number, acquireTimeoutMs = 10_000): Promise<Setup> {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const broken = new Set<FakeSession>();
  const gated = new Map<FakeSession, ((ok: boolean) => void) | undefined>();
  driver.respond = (text, params, s) => {
    if (text === "SELECT 1" && gated.has(s)) {
      return new Promise((resolve, reject) =>
        gated.set(s, (ok) => {
          gated.delete(s);
          if (ok) return resolve(defaultResponder(text, params, s));
          s.kill();
          reject(new Error("connection reset by peer"));
        })
      );
    }
    if (text === "SELECT 1" && broken.delete(s)) {
      s.kill();
      throw new Error("connection reset by peer");
    }
    return defaultResponder(text, params, s);
  };
  const pool = createPool({
    db: [A],
    groups: { g: { connection_count: count, autocommit: false } },
    driver,
    idleTimeoutMs: 0,
    maxLifetimeMs: 0,
    pingAfterIdleMs: 0,
    acquireTimeoutMs,
  }, { clock });
  const all = await Promise.all(Array.from({ length: count }, () => pool.lease("g")));
  for (const h of all) await h.release();
  assert.equal(driver.sessions.length, count);
  clock.advance(1);
  driver.down.add("a:5432");
  const s: Setup = { pool, driver, clock, broken, gated };
  made.push(s);
  return s;
}

/** Leases in call order, recording the order in which callers are served. */
function leaseAll(pool: Pool, names: string[], served: string[]): Promise<Handler>[] {
  return names.map((name) => {
    const got = pool.lease("g").then((h) => (served.push(name), h));
    got.catch(() => {}); // A failed test ends the pool under a waiting caller.
    return got;
  });
}

/** The `n`th session opened: released in that order, the last one is leased first. */
function session(driver: FakeDriver, n: number): FakeSession {
  return driver.sessions[n];
}

describe("FIFO through the ping before use", () => {
  it("an older caller whose ping failed gets the session a younger caller's ping then passed", async () => {
    const { pool, driver, broken } = await setup(2);
    broken.add(session(driver, 1)); // the first caller's
    const served: string[] = [];
    const [first, second] = leaseAll(pool, ["first", "second"], served);
    await settle();
    assert.deepEqual(served, ["first"], "the younger caller was served first");
    await (await first).release();
    await settle();
    assert.deepEqual(served, ["first", "second"]);
    await (await second).release();
    assert.equal(pool.stats().groups.g.leased, 0);
  });

  it("callers whose pings failed are served in their order, not in the order the pings failed", async () => {
    const { pool, driver, broken } = await setup(3);
    const holder = await pool.lease("g");
    broken.add(session(driver, 0)).add(session(driver, 1)); // the holder has the third
    const served: string[] = [];
    const [first, second] = leaseAll(pool, ["first", "second"], served);
    await settle();
    assert.deepEqual(served, []);
    await holder.release();
    await settle();
    assert.deepEqual(served, ["first"], "the caller whose ping failed last was served first");
    await (await first).release();
    await settle();
    await (await second).release();
    assert.deepEqual(served, ["first", "second"]);
  });

  it("an older caller whose ping passes keeps its session while a younger one waits", async () => {
    const { pool, driver, broken, gated } = await setup(2);
    const older = session(driver, 1);
    gated.set(older, undefined);
    broken.add(session(driver, 0));
    const served: string[] = [];
    const [first, second] = leaseAll(pool, ["first", "second"], served);
    await settle();
    assert.deepEqual(served, [], "the younger caller's ping failed, the older one's is in flight");
    gated.get(older)!(true);
    await settle();
    assert.deepEqual(served, ["first"], "the session went to the younger caller");
    await (await first).release();
    await settle();
    await (await second).release();
    assert.deepEqual(served, ["first", "second"]);
  });

  it("a caller sent back to wait keeps its deadline: its timeout counts from its call", async () => {
    const { pool, driver, clock, broken } = await setup(2, 100);
    const [a, b] = [await pool.lease("g"), await pool.lease("g")];
    broken.add(session(driver, 1)); // a's
    let outcome: unknown = "pending";
    const now = () => outcome; // read afresh after each step
    pool.lease("g").then((h) => (outcome = h), (e) => (outcome = e));
    clock.advance(50);
    await a.release(); // goes to the waiting caller, whose ping fails: it waits on
    await settle();
    assert.equal(now(), "pending", "50 ms after the call");
    clock.advance(50);
    await settle();
    assert.ok(now() instanceof AcquireTimeoutError, `100 ms after the call: ${String(now())}`);
    await b.release();
  });
});
