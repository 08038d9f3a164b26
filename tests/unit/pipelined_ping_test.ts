import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { AcquireTimeoutError, createPool, type Pool } from "../../mod.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let pool: Pool | undefined;
let driver: FakeDriver;
let clock: FakeClock;

function setup(count = 1): Pool {
  driver = new FakeDriver();
  clock = new FakeClock();
  pool = createPool({
    db: { host: "a" },
    groups: { g: { connection_count: count, pipeline: true } },
    driver,
    pingAfterIdleMs: 1000,
    pingTimeoutMs: 5000,
  }, { clock });
  return pool;
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));
const pings = (s?: FakeSession) =>
  driver.queries.filter((q) => q.text === "SELECT 1" && (!s || q.session === s)).length;
const pidOf = (p: Pool) =>
  p.withHandler("g", async (db) => (await db.query("SELECT $1", [0])).rows[0].pid as number);

/** Holds the sessions' pings until `answer` is called (`fail`: they fail instead). */
function holdPings(): { answer(fail?: boolean): void } {
  const held: ((fail: boolean) => void)[] = [];
  driver.respond = (text, params, s) => {
    if (text !== "SELECT 1") return defaultResponder(text, params, s);
    return new Promise((resolve, reject) =>
      held.push((fail) =>
        fail ? reject(new Error("server closed the connection")) : resolve(
          defaultResponder(text, params, s),
        )
      )
    );
  };
  return { answer: (fail = false) => held.splice(0).forEach((f) => f(fail)) };
}

afterEach(async () => {
  await pool?.end();
  pool = undefined;
  assert.equal(driver.open.size, 0);
  assert.equal(clock.pendingTimers, 0, "no timer left behind");
});

describe("pipelined group: the ping before use", () => {
  it("pings a session nobody held for longer than pingAfterIdleMs before sharing it again", async () => {
    const p = setup();
    const pid = await pidOf(p);
    assert.equal(pings(), 0);
    clock.advance(500);
    assert.equal(await pidOf(p), pid);
    assert.equal(pings(), 0, "idle for less than pingAfterIdleMs: no ping");
    clock.advance(1500);
    assert.equal(await pidOf(p), pid);
    assert.equal(pings(), 1, "idle past pingAfterIdleMs: pinged");
    const session = driver.sessions[0];
    assert.deepEqual(session.log.slice(-2), ["SELECT 1", "SELECT $1"], "the ping came first");
  });

  it("a session picked within the window each time is never pinged; one held past it is, once", async () => {
    const p = setup();
    await pidOf(p);
    for (let i = 0; i < 10; i++) {
      clock.advance(600);
      await pidOf(p);
    }
    assert.equal(pings(), 0, "picked every 600 ms: never idle past the window");
    // Held for 5 s: the next pick finds it unpicked for longer than the window.
    await p.withHandler("g", async (db) => {
      clock.advance(5000);
      await db.query("SELECT 2");
    });
    await pidOf(p);
    assert.equal(pings(), 1);
    await pidOf(p);
    assert.equal(pings(), 1);
  });

  it("callers that pick the session while its ping is out wait for that one ping", async () => {
    const p = setup();
    await pidOf(p);
    clock.advance(2000);
    const hold = holdPings();
    const calls = Array.from({ length: 5 }, () => pidOf(p));
    await tick();
    assert.equal(pings(), 1, "one ping for all of them");
    assert.equal(driver.queries.filter((q) => q.text === "SELECT $1").length, 1, "none ran yet");
    const during = p.stats().groups.g;
    assert.deepEqual([during.total, during.idle], [1, 0], "a session being pinged is not idle");
    hold.answer();
    const pids = await Promise.all(calls);
    assert.deepEqual(new Set(pids), new Set([driver.sessions[0].pid]));
    assert.equal(pings(), 1);
  });

  it("a failed ping takes the session out of rotation: its callers run on a new one", async () => {
    const p = setup();
    const first = await pidOf(p);
    clock.advance(2000);
    const hold = holdPings();
    const calls = Array.from({ length: 3 }, () => pidOf(p));
    await tick();
    hold.answer(true);
    driver.respond = defaultResponder;
    const pids = await Promise.all(calls);
    assert.ok(pids.every((pid) => pid !== first), `ran on ${pids}`);
    assert.ok(driver.sessions[0].closed, "the session that failed its ping is closed");
    assert.equal(p.stats().groups.g.leased, 0);
  });

  it("an unanswered ping: the caller's timeout wins, the session goes after pingTimeoutMs", async () => {
    const p = setup();
    await pidOf(p);
    clock.advance(2000);
    const hold = holdPings();
    const call = p.withHandler("g", () => "ran", { timeoutMs: 300 }).catch((err) => err);
    await tick();
    clock.advance(300);
    const outcome = await call;
    assert.ok(outcome instanceof AcquireTimeoutError, String(outcome));
    assert.match(outcome.message, /"g".*pinged before use=1/);
    assert.equal(driver.sessions[0].closed, false, "the session is others' too: not yet");
    clock.advance(5000);
    await tick();
    assert.ok(driver.sessions[0].closed, "closed once the ping itself timed out");
    hold.answer();
  });

  it("the caller's signal wins while the ping is out; the others are served", async () => {
    const p = setup();
    await pidOf(p);
    clock.advance(2000);
    const hold = holdPings();
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    let ran = false;
    const aborted = p.withHandler("g", () => (ran = true), { signal: controller.signal })
      .catch((err) => err);
    const other = pidOf(p);
    await tick();
    controller.abort(reason);
    assert.equal(await aborted, reason);
    hold.answer();
    assert.equal(await other, driver.sessions[0].pid);
    assert.equal(ran, false, "fn never ran for the caller that gave up");
    assert.equal(p.stats().groups.g.leased, 0);
  });
});
