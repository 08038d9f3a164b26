/**
 * Attacks on the ping before use that asks the role query (a driver that does
 * not report in_hot_standby): a promotion seen by one session's ping, in an
 * exclusive and a pipelined group, with the caller aborting while the role
 * query is out, and odd answers to the role query. No caller may run on the
 * promoted server; every caller settles once; nothing is left behind.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type Pool } from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { endAndCheck, holdQueries, listProblems, tick } from "../support/attack_rig.ts";
import { RoleDriver } from "./endpoints_support.ts";
import { ROLE_QUERY } from "../../src/endpoints/roles.ts";

const A = { host: "a", port: 5432, name: "app", user: "u" };
const B = { host: "b", port: 5432, name: "app", user: "u" };

interface Rig {
  pool: Pool;
  driver: RoleDriver;
  clock: FakeClock;
}

function rig(group: Record<string, unknown>): Rig {
  const driver = new RoleDriver();
  driver.reports = false;
  driver.roles.set("a:5432", { standby: true });
  driver.roles.set("b:5432", { standby: true });
  const clock = new FakeClock();
  const pool = createPool({
    db: [A, B],
    groups: { g: { connection_count: 2, target_session_attrs: "standby", ...group } },
    driver,
    pingAfterIdleMs: 1000,
    pingTimeoutMs: 5000,
  }, { clock });
  return { pool, driver, clock };
}

/** Two sessions on endpoint a (b refuses connections meanwhile), both idle. */
async function twoOnA(r: Rig): Promise<void> {
  r.driver.fake.down.add("b:5432");
  await r.pool.open();
  r.driver.fake.down.delete("b:5432");
  assert.equal(r.driver.fake.open.size, 2);
  assert.ok([...r.driver.fake.open].every((s) => s.endpoint === "a:5432"));
}

const where = (r: Rig, options = {}) =>
  r.pool.withHandler("g", async (db) => {
    const { rows } = await db.query("SELECT $1", [0]);
    return rows[0].endpoint as string;
  }, options);

describe("ping before use with the role query: a promotion", () => {
  for (const pipeline of [false, true]) {
    const kind = pipeline ? "pipelined" : "exclusive";
    it(`${kind}: the caller aborts while the role query is out, the answer shows a promotion: nobody runs on a`, () =>
      listProblems(async (problems) => {
        const r = rig({ pipeline });
        await twoOnA(r);
        r.clock.advance(5000);
        r.driver.setRole("a:5432", { standby: false });
        const hold = holdQueries(r.driver.fake, ROLE_QUERY);
        const controller = new AbortController();
        const reason = new Error("caller gave up");
        const first = where(r, { signal: controller.signal }).then(
          (v) => ({ ok: true, v }),
          (e) => ({ ok: false, e }),
        );
        await tick();
        if (hold.count() === 0) problems.push("no role query sent by the ping");
        controller.abort(reason);
        const got = await first;
        if (got.ok || (got as { e: unknown }).e !== reason) {
          // A pipelined caller waits in the wait list: its abort is its own.
          problems.push(`first caller: ${inspect(got).split("\n")[0]}`);
        }
        hold.answer();
        for (let i = 0; i < 3; i++) await tick();
        const outs = await Promise.allSettled([where(r), where(r), where(r)]);
        for (const o of outs) {
          if (o.status === "rejected") problems.push(`caller failed ${inspect(o.reason)}`);
          else if (o.value !== "b:5432") problems.push(`served on ${o.value} after its promotion`);
        }
        await endAndCheck(r, problems);
      }));

    it(`${kind}: one session's ping sees the promotion, the other idle session on a is never used`, () =>
      listProblems(async (problems) => {
        const r = rig({ pipeline });
        await twoOnA(r);
        r.clock.advance(5000);
        r.driver.setRole("a:5432", { standby: false });
        // Concurrent callers: the first ping's answer must keep the others off a.
        const outs = await Promise.allSettled(Array.from({ length: 6 }, () => where(r)));
        for (const o of outs) {
          if (o.status === "rejected") problems.push(`caller failed ${inspect(o.reason)}`);
          else if (o.value !== "b:5432") problems.push(`served on ${o.value} after its promotion`);
        }
        await endAndCheck(r, problems);
      }));
  }
});

describe("ping before use with the role query: odd answers", () => {
  const answers: [string, Record<string, unknown>[]][] = [
    ["'t'/'on' strings", [{ in_recovery: "t", read_only: "on" }]],
    ["'true' string", [{ in_recovery: "true", read_only: "off" }]],
  ];
  for (const [label, rows] of answers) {
    for (const pipeline of [false, true]) {
      it(`${pipeline ? "pipelined" : "exclusive"}: ${label} read as a standby, the session is reused`, async () => {
        const problems: string[] = [];
        const r = rig({ pipeline, connection_count: 1 });
        await where(r);
        const inner = r.driver.fake.respond;
        r.driver.fake.respond = (text, params, s) =>
          text === ROLE_QUERY ? { rows, rowCount: 1, command: "SELECT" } : inner(text, params, s);
        r.clock.advance(5000);
        const before = r.driver.fake.sessions.length;
        const outs = await Promise.allSettled([where(r), where(r)]);
        for (const o of outs) {
          if (o.status === "rejected") problems.push(`caller failed ${inspect(o.reason)}`);
        }
        if (r.driver.fake.sessions.length !== before) problems.push("the session was replaced");
        await endAndCheck(r, problems);
        assert.deepEqual(problems, []);
      });
    }
  }

  // The server is a standby and stays one; the ping's role query comes back once without its
  // columns (null or no row): the callers are still served and the standby's sessions stay.
  const unknown: [string, Record<string, unknown>[]][] = [
    ["in_recovery null", [{ in_recovery: null, read_only: null }]],
    ["no row", []],
  ];
  for (const [label, rows] of unknown) {
    for (const pipeline of [false, true]) {
      it(
        `${
          pipeline ? "pipelined" : "exclusive"
        }: a role query answered with ${label} is not taken for a promotion`,
        async () => {
          const problems: string[] = [];
          const r = rig({ pipeline, connection_count: 2 });
          await twoOnA(r);
          r.driver.fake.down.add("b:5432");
          const inner = r.driver.fake.respond;
          let odd = 1;
          r.driver.fake.respond = (text, params, s) =>
            text === ROLE_QUERY && odd-- > 0
              ? { rows, rowCount: rows.length, command: "SELECT" }
              : inner(text, params, s);
          r.clock.advance(5000);
          const outs = await Promise.allSettled([where(r), where(r), where(r)]);
          for (const o of outs) {
            if (o.status === "rejected") problems.push(`caller failed ${inspect(o.reason)}`);
          }
          const closed = r.driver.fake.sessions.filter((s) => s.closed).length;
          if (closed > 1) problems.push(`${closed} sessions of a standby closed`);
          await endAndCheck(r, problems);
          assert.deepEqual(problems, []);
        },
      );
    }
  }
});
