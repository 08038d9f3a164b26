/**
 * More attacks on the ping before use of a pipelined group: pool.end() or a
 * kill after every microtask turn of a ping, a failed ping under an abort at
 * every turn, the caller's deadline kept across a failed ping, and a
 * promotion seen (or not) by the ping's reply, on the fake driver and clock.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AcquireTimeoutError, createPool, PoolClosedError, PoolError } from "../../mod.ts";
import { defaultResponder } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { withoutEscapes } from "../support/escapes.ts";
import {
  afterTurns,
  endAndCheck,
  endOnClock,
  fakeRig,
  holdQueries,
  listProblems,
  tick,
} from "../support/attack_rig.ts";
import { RoleDriver } from "./endpoints_support.ts";

describe("pipelined ping before use: end and kill at every turn", () => {
  it(
    "pool.end() after 0..30 turns of a ping: callers served or PoolClosedError, once, nothing left",
    () =>
      listProblems(async (problems) => {
        for (let turns = 0; turns <= 30; turns++) {
          const r = fakeRig();
          await r.pool.withHandler("g", () => 1);
          r.clock.advance(5000);
          let settled = 0;
          const calls = Array.from(
            { length: 3 },
            () =>
              r.pool.withHandler("g", async (db) => (await db.query("SELECT 2"), "ran")).then(
                (v) => (settled++, v),
                (e) => (settled++, e),
              ),
          );
          let ending: Promise<void> | undefined;
          afterTurns(turns, () => (ending = r.pool.end()));
          const outs = await Promise.all(calls);
          for (let i = 0; i < 3; i++) await tick();
          r.clock.advance(60_000);
          await ending;
          for (const o of outs) {
            if (o !== "ran" && !(o instanceof PoolClosedError)) {
              problems.push(`turn ${turns}: ${inspect(o).split("\n")[0]}`);
            }
          }
          if (settled !== 3) problems.push(`turn ${turns}: settled ${settled}`);
          if (r.driver.open.size !== 0) problems.push(`turn ${turns}: sessions left open`);
          if (r.clock.pendingTimers !== 0) problems.push(`turn ${turns}: timers left`);
        }
      }),
  );

  it("the session killed after 0..30 turns of its ping: nobody runs on the dead session", () =>
    listProblems(async (problems) => {
      for (let turns = 0; turns <= 30; turns++) {
        const r = fakeRig();
        await r.pool.withHandler("g", () => 1);
        const first = r.driver.sessions[0];
        r.clock.advance(5000);
        const calls = Array.from(
          { length: 3 },
          () =>
            r.pool.withHandler("g", async (db) => (await db.query("SELECT $1", [0])).rows[0].pid)
              .catch((e) => e),
        );
        afterTurns(turns, () => first.kill());
        for (const o of await Promise.all(calls)) {
          // A kill after the hand-out hits a caller mid-query: a typed PoolError is fair.
          if (typeof o !== "number" && !(o instanceof PoolError)) {
            problems.push(`turn ${turns}: ${inspect(o).split("\n")[0]}`);
          }
        }
        await endAndCheck(r, problems, `turn ${turns}`);
      }
    }));

  it("a failing ping with an abort after 0..30 turns: the abort reason or a fresh session, never the old one", () =>
    listProblems(async (problems) => {
      for (let turns = 0; turns <= 30; turns++) {
        const r = fakeRig();
        await r.pool.withHandler("g", () => 1);
        const first = r.driver.sessions[0];
        r.clock.advance(5000);
        r.driver.respond = (text, params, s) => {
          if (text === "SELECT 1") return Promise.reject(new Error("server closed the connection"));
          return defaultResponder(text, params, s);
        };
        const controller = new AbortController();
        const reason = new Error(`abort ${turns}`);
        const call = r.pool.withHandler(
          "g",
          async (db) => (await db.query("SELECT $1", [0])).rows[0].pid,
          { signal: controller.signal },
        ).catch((e) => e);
        afterTurns(turns, () => controller.abort(reason));
        const o = await call;
        if (o !== reason && typeof o !== "number") {
          problems.push(`turn ${turns}: ${inspect(o).split("\n")[0]}`);
        }
        if (o === first.pid) problems.push(`turn ${turns}: ran on the session whose ping failed`);
        await endAndCheck(r, problems, `turn ${turns}`);
      }
    }));
});

describe("pipelined ping before use: the caller's deadline across a failed ping", () => {
  it("a ping failing at 250 ms of a 300 ms wait, no new session: the caller times out at 300 ms", () =>
    withoutEscapes(async () => {
      const r = fakeRig();
      await r.pool.withHandler("g", () => 1);
      r.clock.advance(5000);
      let failPing: () => void = () => {};
      r.driver.respond = (text, params, s) => {
        if (text !== "SELECT 1") return defaultResponder(text, params, s);
        return new Promise((_, reject) => (failPing = () => reject(new Error("gone"))));
      };
      // New sessions never finish connecting.
      const connect = r.driver.connect.bind(r.driver);
      r.driver.connect = () => new Promise(() => {});
      const start = r.clock.now();
      let at = -1;
      const call = r.pool.withHandler("g", () => "ran", { timeoutMs: 300 })
        .catch((e) => ((at = r.clock.now()), e));
      await tick();
      r.clock.advance(250);
      failPing();
      await tick();
      for (let i = 0; i < 20 && at < 0; i++) {
        r.clock.advance(50);
        await tick();
      }
      const o = await call;
      assert.ok(o instanceof AcquireTimeoutError, inspect(o));
      assert.equal(at - start, 300, "the wait after the failed ping keeps the caller's deadline");
      r.driver.connect = connect;
      await endOnClock(r.pool, r.clock);
    }));
});

describe("pipelined ping before use: a promotion carried (or not) by the ping's reply", () => {
  for (const reports of [true, false]) {
    it(
      `standby group, ${
        reports ? "parameters reported" : "no parameters (role query only)"
      }: no caller runs on the promoted server`,
      () =>
        withoutEscapes(async () => {
          const driver = new RoleDriver();
          driver.reports = reports;
          const clock = new FakeClock();
          driver.roles.set("b:5432", { standby: true });
          const pool = createPool({
            db: [{ host: "a" }, { host: "b" }],
            groups: {
              r: { connection_count: 1, pipeline: true, target_session_attrs: "standby" },
            },
            driver,
            pingAfterIdleMs: 1000,
            acquireTimeoutMs: 500,
          }, { clock });
          await pool.withHandler("r", () => 1);
          clock.advance(5000);
          driver.setRole("b:5432", { standby: false });
          const served: string[] = [];
          const calls = Array.from(
            { length: 5 },
            () => pool.withHandler("r", (db) => void served.push(db.endpoint.host)).catch((e) => e),
          );
          await tick();
          for (let i = 0; i < 10; i++) {
            clock.advance(100);
            await tick();
          }
          const outs = await Promise.all(calls);
          for (const o of outs) if (o !== undefined) assert.ok(o instanceof PoolError, inspect(o));
          await endOnClock(pool, clock);
          assert.equal(driver.fake.open.size, 0);
          assert.deepEqual(served, [], "no server is a standby any more: nobody is served");
        }),
    );
  }
});

describe("pipelined ping before use: counted like a wait", () => {
  it(
    "1000 callers timed out on an unanswered ping count in stats().groups.g.timedOut",
    async () => {
      const { pool, driver, clock } = fakeRig();
      await pool.open();
      clock.advance(5000);
      holdQueries(driver);
      const calls = Array.from(
        { length: 1000 },
        () => pool.withHandler("g", () => 1, { timeoutMs: 300 }).catch((e) => e),
      );
      await tick();
      clock.advance(300);
      const outs = await Promise.all(calls);
      const stats = pool.stats().groups.g;
      await endOnClock(pool, clock);
      assert.ok(outs.every((o) => o instanceof AcquireTimeoutError));
      assert.equal(stats.timedOut, 1000);
    },
  );
});

describe("pipelined ping before use: a stalled ping on one session of two", () => {
  it("callers share the healthy busy session instead of all timing out on the stalled ping", () =>
    withoutEscapes(async () => {
      const { pool, driver, clock } = fakeRig({}, { connection_count: 2 });
      await pool.open();
      clock.advance(500);
      // One session busy with a long caller; the other sits idle past pingAfterIdleMs.
      let release!: () => void;
      const long = pool.withHandler("g", () => new Promise<void>((r) => (release = r)));
      await tick();
      clock.advance(1000);
      holdQueries(driver);
      const calls = Array.from(
        { length: 10 },
        () =>
          pool.withHandler("g", async (db) => (await db.query("SELECT $1", [0])).rows[0].pid, {
            timeoutMs: 1000,
          }).catch((e) => e),
      );
      await tick();
      clock.advance(1000);
      await tick();
      const outs = await Promise.all(calls);
      release();
      await long;
      await endOnClock(pool, clock);
      assert.deepEqual(
        outs.filter((o) => typeof o !== "number").map((o) => inspect(o).split("\n")[0]),
        [],
      );
    }));
});
