/**
 * A backed-off endpoint due for a probe that accepts and never answers (a
 * partition: the fake driver's connect hangs) must not hold a caller that
 * another endpoint can serve; after a failover the promoted server's role is
 * re-checked while the probe is out, within the rate limit, and a session
 * that loses the race is closed, never leaked nor counted for the group.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Handler, OfflineError } from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { type Built, endAll, RoleDriver, tick } from "./endpoints_support.ts";

const A = { host: "a", port: 5432, name: "app", user: "u" };
const B = { host: "b", port: 5432, name: "app", user: "u" };

const made: Built[] = [];
afterEach(() => endAll(made));

function setup(groups: Record<string, Record<string, unknown>>, bStandby: boolean): Built {
  const driver = new RoleDriver();
  if (bStandby) driver.roles.set("b:5432", { standby: true });
  const clock = new FakeClock();
  const pool = createPool(
    // deno-lint-ignore no-explicit-any
    { db: [A, B], groups: groups as any, driver, reconnectBaseMs: 100, reconnectMaxMs: 1000 },
    { clock },
  );
  const m = { pool, driver, clock };
  made.push(m);
  return m;
}

/** What `p` settled with after a few turns of the event loop, or `"held"`. */
async function within<T>(p: Promise<T>): Promise<T | "held" | { rejected: unknown }> {
  let out: T | "held" | { rejected: unknown } = "held";
  p.then((v) => out = v, (e) => out = { rejected: e });
  for (let i = 0; i < 20 && out === "held"; i++) await tick();
  return out;
}

/** Makes connects to `a:5432` hang (a partition) and returns how to end them. */
function stall(m: Built): (refuse: boolean) => Promise<void> {
  m.driver.fake.hanging.set("a:5432", []);
  return async (refuse) => {
    if (refuse) m.driver.fake.down.add("a:5432");
    const waiting = m.driver.fake.hanging.get("a:5432") ?? [];
    m.driver.fake.hanging.delete("a:5432");
    for (const go of waiting) go();
    for (let i = 0; i < 5; i++) await tick();
  };
}

const attemptsOn = (m: Built, ep: string) =>
  m.driver.fake.connectAttempts.filter((e) => e === ep).length;

describe("EndpointScope.connect() with a stalled endpoint due for a probe", () => {
  it("serves every caller from the other endpoint while the probe hangs (target any)", async () => {
    const m = setup({ g: { connection_count: 4 } }, false);
    m.driver.fake.down.add("a:5432");
    const held: Handler[] = [await m.pool.lease("g")];
    assert.equal(held[0].endpoint.id, "b:5432");
    assert.equal(m.pool.stats().endpoints[0].up, false);
    m.driver.fake.down.delete("a:5432");
    const resume = stall(m);
    m.clock.advance(150); // a's back-off has passed: a probe is due
    // The probe goes out alone for its head start (100 ms), then b is tried beside it.
    const first = m.pool.lease("g");
    assert.equal(await within(first), "held");
    m.clock.advance(100);
    // Whichever endpoint the rotation prefers, none of the three waits on a.
    for (let i = 0; i < 3; i++) {
      const got = await within(i === 0 ? first : m.pool.lease("g"));
      assert.ok(got !== "held" && !("rejected" in got), `lease ${i}: ${String(got)}`);
      assert.equal(got.endpoint.id, "b:5432");
      held.push(got);
    }
    assert.equal(attemptsOn(m, "a:5432"), 2, "one probe out at a time");
    // The probe answers late: its session loses the race and is closed.
    await resume(false);
    assert.equal(m.pool.stats().endpoints[0].up, true, "the probe's success counts");
    assert.equal(m.driver.fake.open.size, 4, "the late session is closed, not kept");
    assert.equal(m.pool.stats().groups.g.total, 4);
    for (const h of held) await h.release();
  });

  it("after a promotion the primary group is served while the old primary's probe hangs", async () => {
    const m = setup({ w: { connection_count: 2, target_session_attrs: "primary" } }, true);
    assert.equal(await m.pool.withHandler("w", (db) => db.endpoint.id), "a:5432");
    for (const s of m.driver.fake.open) s.kill();
    m.driver.fake.down.add("a:5432");
    // a failed and is backed off; b's role was just checked: still a standby.
    await assert.rejects(m.pool.withHandler("w", () => 1), OfflineError);
    const checks = attemptsOn(m, "b:5432");
    const resume = stall(m);
    m.driver.fake.down.delete("a:5432");
    m.driver.setRole("b:5432", { standby: false }); // pg_promote()
    m.clock.advance(150); // a is due for a probe; b's role check is not (250 ms)
    const got = await within(m.pool.withHandler("w", (db) => db.endpoint.id));
    assert.equal(got, "b:5432", "served by the promoted server, not held by the probe");
    assert.equal(attemptsOn(m, "b:5432"), checks + 1, "one role check");
    await resume(true);
    assert.equal(m.pool.stats().groups.w.total, 1);
  });

  it("a caller waiting on the probe re-checks roles as each window opens, then is served", async () => {
    const m = setup({ w: { connection_count: 2, target_session_attrs: "primary" } }, true);
    m.driver.fake.down.add("a:5432");
    await assert.rejects(m.pool.withHandler("w", () => 1), OfflineError);
    const resume = stall(m);
    m.driver.fake.down.delete("a:5432");
    m.clock.advance(150);
    const waiting = m.pool.withHandler("w", (db) => db.endpoint.id);
    assert.equal(await within(waiting), "held", "nothing matches yet: the probe decides");
    m.driver.setRole("b:5432", { standby: false });
    m.clock.advance(260); // the window opens: b is checked again
    assert.equal(await within(waiting), "b:5432");
    await resume(true);
  });

  it("a storm of callers costs one role check per endpoint per window", async () => {
    const m = setup({ w: { connection_count: 4, target_session_attrs: "primary" } }, true);
    m.driver.fake.down.add("a:5432");
    await assert.rejects(m.pool.withHandler("w", () => 1), OfflineError);
    const resume = stall(m);
    m.driver.fake.down.delete("a:5432");
    m.clock.advance(150);
    const before = attemptsOn(m, "b:5432");
    const storm = Array.from({ length: 10 }, () => m.pool.withHandler("w", (db) => db.endpoint.id));
    for (const caller of storm) caller.catch(() => {});
    await within(storm[0]);
    assert.equal(attemptsOn(m, "b:5432"), before + 1, "one check within the window");
    assert.equal(attemptsOn(m, "a:5432"), 2, "one probe");
    m.driver.setRole("b:5432", { standby: false });
    m.clock.advance(260);
    for (let i = 0; i < 10; i++) await tick();
    assert.equal(attemptsOn(m, "b:5432"), before + 2, "one more in the next window");
    assert.deepEqual(new Set(await Promise.all(storm)), new Set(["b:5432"]));
    assert.ok(m.pool.stats().groups.w.total <= 4);
    await resume(true);
    assert.equal(m.pool.stats().endpoints[0].failures, 2, "one failure per window");
  });

  it("nothing matches: the caller holding the probe gets OfflineError when the probe fails", async () => {
    const m = setup({ w: { connection_count: 2, target_session_attrs: "primary" } }, true);
    m.driver.fake.down.add("a:5432");
    await assert.rejects(m.pool.withHandler("w", () => 1), OfflineError);
    const resume = stall(m);
    m.driver.fake.down.delete("a:5432");
    m.clock.advance(150);
    const waiting = within(m.pool.withHandler("w", () => 1));
    await resume(true);
    const got = await waiting;
    assert.ok(typeof got === "object" && got.rejected instanceof OfflineError, String(got));
    assert.equal(m.clock.pendingTimers, 0, "no timer left behind");
  });

  it("a group whose role the backed-off endpoint does not have sends it no probe and waits for none", async () => {
    const m = setup({
      w: { connection_count: 1, target_session_attrs: "primary" },
      r: { connection_count: 2, target_session_attrs: "standby" },
    }, true);
    assert.equal(await m.pool.withHandler("w", (db) => db.endpoint.id), "a:5432");
    for (const s of m.driver.fake.open) s.kill();
    m.driver.fake.down.add("a:5432");
    await assert.rejects(m.pool.withHandler("w", () => 1), OfflineError);
    const resume = stall(m);
    m.driver.fake.down.delete("a:5432");
    m.clock.advance(150); // a (a primary) is due for a probe
    const probes = attemptsOn(m, "a:5432");
    assert.equal(await within(m.pool.withHandler("r", (db) => db.endpoint.id)), "b:5432");
    assert.equal(attemptsOn(m, "a:5432"), probes, "the standby group left a alone");
    await resume(true);
  });
});

describe("end() while a caller waits on a stalled probe", () => {
  it("wakes the search: the caller gets PoolClosedError and no timer of the search is left", async () => {
    const m = setup({ g: { connection_count: 2 } }, false);
    m.driver.fake.down.add("a:5432");
    const held = await m.pool.lease("g");
    m.driver.fake.down.delete("a:5432");
    stall(m);
    m.clock.advance(150); // a's probe is due; it hangs, and b waits out the probe's head start
    const waiting = m.pool.lease("g");
    assert.equal(await within(waiting), "held");
    assert.ok(m.clock.pendingTimers > 0, "the search waits on the head start's timer");
    const ended = m.pool.end();
    const got = await within(waiting);
    assert.ok(got !== "held" && "rejected" in got, `the waiting caller settled: ${String(got)}`);
    await held.release();
    await ended;
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(m.clock.pendingTimers, 0, "no timer left after end()");
  });
});
