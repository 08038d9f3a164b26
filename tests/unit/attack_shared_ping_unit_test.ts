/**
 * Attacks on the ping before use of a pipelined group (src/groups/shared_vetting.ts):
 * aborts at every microtask turn around the ping, pool.end(), a killed session, a
 * resize/drain/setEndpoints or a clock leap while the ping is out, a ping deadline
 * shorter than the caller's, pingAfterIdleMs 0 under bursts, thousands of callers
 * on one idle session, maxWaiting. Every caller settles once with the expected
 * outcome, nothing escapes, no timer or session is left, and no caller is served
 * on a session whose ping failed or that left the rotation.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AcquireTimeoutError, PoolClosedError, PoolOverloadedError } from "../../mod.ts";
import { defaultResponder, type FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import {
  afterTurns,
  endAndCheck,
  type FakeRig,
  fakeRig,
  holdQueries,
  listProblems,
  tick,
} from "../support/attack_rig.ts";

const pings = (driver: FakeDriver, s?: FakeSession) =>
  driver.queries.filter((q) => q.text === "SELECT 1" && (!s || q.session === s)).length;

/** A caller that records the session it ran on, and whether that session was still open. */
function caller(r: FakeRig, served: { pid: number; closed: boolean }[], options = {}) {
  return r.pool.withHandler("g", async (db) => {
    const res = await db.query("SELECT $1", [0]).catch((err) => err);
    if (res instanceof Error) {
      served.push({ pid: -1, closed: true });
      throw res;
    }
    const pid = res.rows[0].pid as number;
    served.push({ pid, closed: r.driver.sessions.find((s) => s.pid === pid)!.closed });
    return pid;
  }, options);
}

/** Counts each settlement, to catch a caller settled twice or never. */
function settleOnce(p: Promise<unknown>, tally: Map<number, number>, id: number) {
  return p.then(
    (v) => (tally.set(id, (tally.get(id) ?? 0) + 1), { ok: true as const, v }),
    (e) => (tally.set(id, (tally.get(id) ?? 0) + 1), { ok: false as const, e }),
  );
}

describe("pipelined ping before use: aborts at every turn", () => {
  for (const others of [0, 2]) {
    it(`abort after 0..30 turns with ${others} other callers on the idle session`, () =>
      listProblems(async (problems) => {
        for (let turns = 0; turns <= 30; turns++) {
          const r = fakeRig();
          await r.pool.withHandler("g", () => 1);
          r.clock.advance(5000);
          const controller = new AbortController();
          const reason = new Error(`abort after ${turns}`);
          let fnAfterAbort = false;
          const tally = new Map<number, number>();
          const served: { pid: number; closed: boolean }[] = [];
          const call = settleOnce(
            r.pool.withHandler("g", async (db) => {
              if (controller.signal.aborted) fnAfterAbort = true;
              await db.query("SELECT 2");
            }, { signal: controller.signal }),
            tally,
            0,
          );
          const rest = Array.from(
            { length: others },
            (_, i) => settleOnce(caller(r, served), tally, i + 1),
          );
          afterTurns(turns, () => controller.abort(reason));
          const out = await call;
          if (!out.ok && out.e !== reason) problems.push(`turn ${turns}: ${inspect(out.e)}`);
          for (const o of await Promise.all(rest)) {
            if (!o.ok) problems.push(`turn ${turns}: other caller failed ${inspect(o.e)}`);
          }
          if (fnAfterAbort) problems.push(`turn ${turns}: fn ran after the abort`);
          if (served.some((s) => s.closed)) {
            problems.push(`turn ${turns}: served on a closed session`);
          }
          if ([...tally.values()].some((n) => n !== 1)) {
            problems.push(`turn ${turns}: settled twice`);
          }
          await endAndCheck(r, problems, `turn ${turns}`);
        }
      }));
  }
});

describe("pipelined ping before use: the group changes while the ping is out", () => {
  // The ping answered, then the session left the rotation before its callers were handed it.
  const changes: [string, (r: FakeRig) => void][] = [
    ["pool.drain()", (r) => r.pool.drain("g")],
    ["pool.resize(g, 1)", (r) => r.pool.resize("g", 1)],
    ["pool.setEndpoints()", (r) => r.pool.setEndpoints({ host: "b" })],
  ];
  for (const [label, change] of changes) {
    const name =
      `${label} after 0..30 turns of an answered ping: no caller runs on a dropped session`;
    it(name, () =>
      listProblems(async (problems) => {
        for (let turns = 0; turns <= 30; turns++) {
          const r = fakeRig({}, { connection_count: 2 });
          await r.pool.withHandler("g", () => 1);
          const first = r.driver.sessions[0];
          r.clock.advance(5000);
          const tally = new Map<number, number>();
          const served: { pid: number; closed: boolean }[] = [];
          const calls = Array.from(
            { length: 3 },
            (_, i) => settleOnce(caller(r, served), tally, i),
          );
          afterTurns(turns, () => change(r));
          for (const o of await Promise.all(calls)) {
            if (!o.ok) problems.push(`turn ${turns}: caller failed ${inspect(o.e).split("\n")[0]}`);
          }
          if (served.some((s) => s.closed)) {
            problems.push(`turn ${turns}: served on a closed session ${JSON.stringify(served)}`);
          }
          if (first.closed && served.some((s) => s.pid === first.pid && s.closed)) {
            problems.push(`turn ${turns}: served on the retired session after it closed`);
          }
          if ([...tally.values()].some((n) => n !== 1)) {
            problems.push(`turn ${turns}: settled twice`);
          }
          await endAndCheck(r, problems, `turn ${turns}`);
        }
      }));
  }

  it("pool.resize to 1 while a held ping is out on one of two idle sessions", () =>
    listProblems(async (problems) => {
      const r = fakeRig({}, { connection_count: 2 });
      await Promise.all([
        r.pool.withHandler("g", () => tick()),
        r.pool.withHandler("g", () => tick()),
      ]);
      r.clock.advance(5000);
      const hold = holdQueries(r.driver);
      const served: { pid: number; closed: boolean }[] = [];
      const calls = Array.from({ length: 4 }, () => caller(r, served).catch((e) => e));
      await tick();
      r.pool.resize("g", 1);
      await tick();
      hold.answer();
      for (const o of await Promise.all(calls)) {
        if (typeof o !== "number") problems.push(`caller failed ${inspect(o)}`);
      }
      assert.ok(!served.some((s) => s.closed), JSON.stringify(served));
      await endAndCheck(r, problems, "resize");
    }));
});

describe("pipelined ping before use: end, kill, leap, deadlines", () => {
  it("pool.end() while the ping is out: every caller rejects with PoolClosedError, nothing left", () =>
    listProblems(async () => {
      const r = fakeRig();
      await r.pool.withHandler("g", () => 1);
      r.clock.advance(5000);
      holdQueries(r.driver);
      let ran = 0;
      const calls = Array.from(
        { length: 50 },
        () =>
          r.pool.withHandler("g", () => ran++, { timeoutMs: 30_000 }).then(
            () => "resolved",
            (e) => e,
          ),
      );
      await tick();
      await r.pool.end();
      const outs = await Promise.all(calls);
      assert.equal(ran, 0);
      assert.ok(outs.every((o) => o instanceof PoolClosedError), inspect(outs.slice(0, 3)));
      assert.equal(r.driver.open.size, 0);
      assert.equal(r.clock.pendingTimers, 0, "no timer left after end");
    }));

  it("the session killed while its ping is out: its callers run on a new session", () =>
    listProblems(async (problems) => {
      const r = fakeRig();
      await r.pool.withHandler("g", () => 1);
      const first = r.driver.sessions[0];
      r.clock.advance(5000);
      holdQueries(r.driver);
      const served: { pid: number; closed: boolean }[] = [];
      const calls = Array.from({ length: 20 }, () => caller(r, served).catch((e) => e));
      await tick();
      r.driver.respond = defaultResponder;
      first.kill();
      const outs = await Promise.all(calls);
      assert.ok(
        outs.every((o) => typeof o === "number" && o !== first.pid),
        inspect(outs.slice(0, 3)),
      );
      assert.ok(!served.some((s) => s.closed));
      await endAndCheck(r, problems, "kill");
    }));

  for (const how of ["stepWall", "freeze"] as const) {
    it(`a clock leap (${how}) while the ping is out: callers served on a fresh session`, () =>
      listProblems(async (problems) => {
        const r = fakeRig();
        await r.pool.withHandler("g", () => 1);
        const first = r.driver.sessions[0];
        r.clock.advance(5000);
        const hold = holdQueries(r.driver);
        const served: { pid: number; closed: boolean }[] = [];
        const calls = Array.from(
          { length: 10 },
          () => caller(r, served, { timeoutMs: 600_000 }).catch((e) => e),
        );
        await tick();
        if (how === "stepWall") r.clock.stepWall(3_600_000);
        else r.clock.freeze(120_000);
        r.clock.advance(1000);
        await tick();
        hold.answer();
        const outs = await Promise.all(calls);
        for (const o of outs) assert.equal(typeof o, "number", inspect(o));
        assert.ok(!served.some((s) => s.closed), JSON.stringify(served));
        if (first.closed) assert.ok(!served.some((s) => s.pid === first.pid));
        await endAndCheck(r, problems, how);
      }));
  }

  it("pingTimeoutMs shorter than the caller's timeout: the late ping drops the session, callers run on a new one", () =>
    listProblems(async (problems) => {
      const r = fakeRig({ pingTimeoutMs: 100 });
      await r.pool.withHandler("g", () => 1);
      const first = r.driver.sessions[0];
      r.clock.advance(5000);
      const hold = holdQueries(r.driver);
      const served: { pid: number; closed: boolean }[] = [];
      const calls = Array.from(
        { length: 10 },
        () => caller(r, served, { timeoutMs: 10_000 }).catch((e) => e),
      );
      await tick();
      r.clock.advance(100);
      await tick();
      hold.answer();
      const outs = await Promise.all(calls);
      assert.ok(
        outs.every((o) => typeof o === "number" && o !== first.pid),
        inspect(outs.slice(0, 3)),
      );
      assert.ok(first.closed, "the session whose ping was late is closed");
      assert.equal(hold.count(), 1, "one ping for ten callers");
      await endAndCheck(r, problems, "late");
    }));

  it("an unanswered ping: every caller times out once, with AcquireTimeoutError, at its own deadline", () =>
    listProblems(async (problems) => {
      const r = fakeRig({ pingTimeoutMs: 5000 });
      await r.pool.withHandler("g", () => 1);
      r.clock.advance(5000);
      holdQueries(r.driver);
      const settledAt: number[] = [];
      const calls = [100, 200, 300].map((t) =>
        r.pool.withHandler("g", () => "ran", { timeoutMs: t }).catch((
          e,
        ) => (settledAt.push(r.clock.now()), e))
      );
      await tick();
      for (let i = 0; i < 4; i++) {
        r.clock.advance(100);
        await tick();
      }
      const outs = await Promise.all(calls);
      assert.ok(outs.every((o) => o instanceof AcquireTimeoutError), inspect(outs));
      assert.deepEqual(settledAt.map((t) => t - settledAt[0]), [0, 100, 200]);
      await endAndCheck(r, problems, "unanswered");
    }));
});

describe("pipelined ping before use: bursts and crowds", () => {
  it("pingAfterIdleMs 0 under bursts: bounded pings, every caller served", () =>
    listProblems(async (problems) => {
      const r = fakeRig({ pingAfterIdleMs: 0 }, { connection_count: 2 });
      let served = 0;
      for (let burst = 0; burst < 20; burst++) {
        const calls = Array.from({ length: 200 }, () =>
          r.pool.withHandler("g", async (db) => {
            await db.query("SELECT 2");
            served++;
          }));
        await Promise.all(calls);
        r.clock.advance(1);
      }
      assert.equal(served, 4000);
      assert.ok(pings(r.driver) <= 20 * 2, `pings: ${pings(r.driver)}`);
      await endAndCheck(r, problems, "burst");
    }));

  it("pingAfterIdleMs 0, callers arriving while the clock moves: no ping storm, nobody starves", () =>
    listProblems(async (problems) => {
      const r = fakeRig({ pingAfterIdleMs: 0 });
      let served = 0;
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) {
        calls.push(r.pool.withHandler("g", () => served++, { timeoutMs: 10_000 }));
        r.clock.advance(1);
        if (i % 7 === 0) await tick();
      }
      await Promise.all(calls);
      assert.equal(served, 500);
      assert.ok(pings(r.driver) <= 500, `pings: ${pings(r.driver)}`);
      await endAndCheck(r, problems, "moving");
    }));

  it("5000 callers on one idle session whose ping fails: one ping, none served on it, all settle once", () =>
    listProblems(async (problems) => {
      const r = fakeRig({}, { connection_count: 2 });
      await r.pool.withHandler("g", () => 1);
      const first = r.driver.sessions[0];
      r.clock.advance(5000);
      const hold = holdQueries(r.driver);
      const tally = new Map<number, number>();
      const served: { pid: number; closed: boolean }[] = [];
      const calls = Array.from({ length: 5000 }, (_, i) => settleOnce(caller(r, served), tally, i));
      await tick();
      assert.equal(hold.count(), 1);
      hold.answer(true);
      const outs = await Promise.all(calls);
      const failed = outs.filter((o) => !o.ok);
      assert.deepEqual(failed.slice(0, 3), []);
      assert.ok(!served.some((s) => s.pid === first.pid || s.closed));
      assert.equal(tally.size, 5000);
      assert.ok([...tally.values()].every((n) => n === 1));
      await endAndCheck(r, problems, "crowd");
    }));

  it("maxWaiting 2 and a failed ping under 100 callers: the overflow gets PoolOverloadedError, the rest are served", () =>
    listProblems(async (problems) => {
      const r = fakeRig({}, { max_waiting: 2 });
      await r.pool.withHandler("g", () => 1);
      r.clock.advance(5000);
      const hold = holdQueries(r.driver);
      const calls = Array.from(
        { length: 100 },
        () => r.pool.withHandler("g", () => "ran").catch((e) => e),
      );
      await tick();
      hold.answer(true);
      const outs = await Promise.all(calls);
      const other = outs.filter((o) => o !== "ran" && !(o instanceof PoolOverloadedError));
      assert.deepEqual(other.map((o) => inspect(o)), []);
      assert.ok(outs.includes("ran"));
      await endAndCheck(r, problems, "maxWaiting");
    }));
});
