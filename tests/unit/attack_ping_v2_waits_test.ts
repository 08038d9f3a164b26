/**
 * Attacks on the reworked pipelined ping before use (src/groups/shared_vetting.ts,
 * `PipelinedGroup.#take` with `since`, `#usable`): callers sent back after the
 * ping answered keep their deadline and are counted once, `maxWaiting` with
 * callers sent back, the order callers are served in, and two role-query pings
 * of one endpoint answered out of order.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AcquireTimeoutError, createPool, PoolOverloadedError } from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
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
import { ROLE_QUERY } from "../../src/endpoints/roles.ts";

/** One pipelined session, callers waiting at most 1 s. */
const rig = (group: Record<string, unknown> = {}) => fakeRig({ acquireTimeoutMs: 1000 }, group);

type Out = { at: number; v?: unknown; e?: unknown };

describe("pipelined ping before use: callers sent back after the ping answered", () => {
  it("the session dies 0..12 turns after its ping answered, no new one opens: each caller is served or times out once, at its first deadline, counted once", () =>
    listProblems(async (problems) => {
      for (let turns = 0; turns <= 12; turns++) {
        const r = rig();
        await r.pool.withHandler("g", () => 1);
        r.clock.advance(5000);
        const hold = holdQueries(r.driver);
        const waited0 = r.pool.stats().groups.g.waited;
        const t0 = r.clock.now();
        const outs: Out[] = [];
        let minLeased = 0;
        const calls = Array.from({ length: 3 }, (_, i) =>
          r.pool.withHandler("g", () => {
            minLeased = Math.min(minLeased, r.pool.stats().groups.g.leased);
            return i;
          }).then(
            (v) => outs.push({ at: r.clock.now(), v }),
            (e) => outs.push({ at: r.clock.now(), e }),
          ));
        await tick();
        r.clock.advance(800);
        // The replacement never connects: callers sent back can only time out.
        r.driver.hanging.set("a:5432", []);
        hold.answer();
        afterTurns(turns, () => r.driver.sessions[0].kill());
        for (let i = 0; i < 3; i++) await tick();
        r.clock.advance(199);
        for (let i = 0; i < 3; i++) await tick();
        const early = outs.filter((o) => o.e !== undefined);
        if (early.length > 0) problems.push(`turn ${turns}: ${early.length} failed before 1000 ms`);
        r.clock.advance(2);
        await Promise.all(calls);
        const timedOut = outs.filter((o) => o.e instanceof AcquireTimeoutError);
        const other = outs.filter((o) =>
          o.e !== undefined && !(o.e instanceof AcquireTimeoutError)
        );
        for (const o of other) problems.push(`turn ${turns}: ${inspect(o.e).split("\n")[0]}`);
        for (const o of timedOut) {
          if (o.at !== t0 + 1001) problems.push(`turn ${turns}: timed out at +${o.at - t0}`);
        }
        const g = r.pool.stats().groups.g;
        // The caller that started the ping waits for it unqueued (as an exclusive group's does).
        if (g.waited - waited0 !== 2) problems.push(`turn ${turns}: waited ${g.waited - waited0}`);
        if (g.timedOut !== timedOut.length) {
          problems.push(`turn ${turns}: timedOut ${g.timedOut} for ${timedOut.length} callers`);
        }
        if (minLeased < 0) problems.push(`turn ${turns}: leased went to ${minLeased}`);
        r.driver.hanging.get("a:5432")!.forEach((f) => f());
        r.driver.hanging.delete("a:5432");
        await endAndCheck(r, problems, `turn ${turns}`);
      }
    }));

  it("maxWaiting 3: callers sent back keep their places, later arrivals overflow, the first three are served first", () =>
    listProblems(async (problems) => {
      for (let turns = 0; turns <= 8; turns++) {
        const r = rig({ maxWaiting: 3 });
        await r.pool.withHandler("g", () => 1);
        r.clock.advance(5000);
        const hold = holdQueries(r.driver);
        const waited0 = r.pool.stats().groups.g.waited;
        const order: number[] = [];
        const outs: { id: number; v?: unknown; e?: unknown }[] = [];
        const call = (id: number) =>
          r.pool.withHandler("g", () => (order.push(id), id)).then(
            (v) => outs.push({ id, v }),
            (e) => outs.push({ id, e }),
          );
        const first = [0, 1, 2].map(call);
        await tick();
        r.driver.hanging.set("a:5432", []);
        hold.answer();
        afterTurns(turns, () => r.driver.sessions[0].kill());
        for (let i = 0; i < 3; i++) await tick();
        const later = [3, 4].map(call);
        for (let i = 0; i < 3; i++) await tick();
        r.driver.hanging.get("a:5432")!.forEach((f) => f());
        r.driver.hanging.delete("a:5432");
        await Promise.all([...first, ...later]);
        const served = outs.filter((o) => o.e === undefined).map((o) => o.id);
        const overloaded = outs.filter((o) => o.e instanceof PoolOverloadedError).map((o) => o.id);
        const other = outs.filter((o) =>
          o.e !== undefined && !(o.e instanceof PoolOverloadedError)
        );
        for (const o of other) {
          problems.push(`turn ${turns}: ${o.id}: ${inspect(o.e).split("\n")[0]}`);
        }
        for (const id of [0, 1, 2]) {
          if (!served.includes(id)) problems.push(`turn ${turns}: early caller ${id} not served`);
        }
        // A later caller is either served (the first three got the session before it came) or overflows.
        for (const id of [3, 4]) {
          if (!served.includes(id) && !overloaded.includes(id)) {
            problems.push(`turn ${turns}: later caller ${id} neither served nor overloaded`);
          }
        }
        const firstLater = order.findIndex((id) => id >= 3);
        if (firstLater >= 0 && order.slice(firstLater).some((id) => id < 3)) {
          problems.push(`turn ${turns}: served out of order ${order.join(",")}`);
        }
        const g = r.pool.stats().groups.g;
        if (g.rejected !== overloaded.length) {
          problems.push(`turn ${turns}: rejected ${g.rejected} for ${overloaded.length}`);
        }
        if (g.waited - waited0 > 5) problems.push(`turn ${turns}: waited ${g.waited - waited0}`);
        await endAndCheck(r, problems, `turn ${turns}`);
      }
    }));
});

describe("two role-query pings of one endpoint answered out of order", () => {
  // Endpoint a is promoted between the two role queries; the answer of the
  // query sent first (standby) arrives last.
  for (const pipeline of [false, true]) {
    it(
      `${
        pipeline ? "pipelined" : "exclusive"
      }: the older answer (standby) does not undo the newer one (primary)`,
      () =>
        listProblems(async (problems) => {
          const driver = new RoleDriver();
          driver.reports = false;
          driver.roles.set("a:5432", { standby: true });
          driver.roles.set("b:5432", { standby: true });
          const clock = new FakeClock();
          const pool = createPool({
            db: [{ host: "a", port: 5432 }, { host: "b", port: 5432 }],
            groups: { g: { connection_count: 2, pipeline, target_session_attrs: "standby" } },
            driver,
            pingAfterIdleMs: 1000,
            pingTimeoutMs: 5000,
          }, { clock });
          driver.fake.down.add("b:5432");
          await pool.open();
          driver.fake.down.delete("b:5432");
          assert.ok([...driver.fake.open].every((s) => s.endpoint === "a:5432"));
          clock.advance(5000);
          const inner = driver.fake.respond;
          const held: { send: () => void }[] = [];
          driver.fake.respond = (text, params, s) => {
            if (text !== ROLE_QUERY) return inner(text, params, s);
            // The first query runs now (a standby); the second after the promotion.
            const now = held.length === 0 ? inner(text, params, s) : undefined;
            return new Promise((resolve) =>
              held.push({ send: () => resolve(now ?? inner(text, params, s)) })
            );
          };
          const where = () =>
            pool.withHandler("g", async (db) => {
              const { rows } = await db.query("SELECT $1", [0]);
              return rows[0].endpoint as string;
            });
          // Two callers at once: each idle session is pinged.
          const both = [where(), where()];
          for (let i = 0; i < 3; i++) await tick();
          if (held.length !== 2) problems.push(`${held.length} role queries out, not 2`);
          driver.setRole("a:5432", { standby: false });
          driver.fake.respond = inner;
          held[1]?.send();
          for (let i = 0; i < 3; i++) await tick();
          held[0]?.send();
          for (let i = 0; i < 3; i++) await tick();
          const later = [where(), where(), where()];
          const outs = await Promise.allSettled([...both, ...later]);
          outs.slice(2).forEach((o) => {
            if (o.status === "rejected") problems.push(`caller failed ${inspect(o.reason)}`);
            else if (o.value !== "b:5432") problems.push(`served on ${o.value}, promoted`);
          });
          await endOnClock(pool, clock);
          if (driver.fake.open.size !== 0) problems.push("sessions left");
        }),
    );
  }
});
