import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Handler, type Pool } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

let pool: Pool;
let driver: FakeDriver;

afterEach(async () => {
  await pool.end();
  assert.equal(driver.open.size, 0);
});

/** The server process id of the session a handler shares (the fake driver logs each query's session). */
async function pidOf(h: Handler): Promise<number> {
  await h.query("SELECT 1");
  return driver.queries[driver.queries.length - 1].session.pid;
}

/** A pipelined group of two sessions, each held by one handler. */
async function twoBusySessions(): Promise<Handler[]> {
  driver = new FakeDriver();
  pool = createPool({
    db: [{ host: "a" }, { host: "b" }],
    groups: { fast: { connection_count: 2, pipeline: true } },
    driver,
  });
  const first = await pool.lease("fast");
  // The first session is busy: this lease shares it and starts opening the second.
  const extra = await pool.lease("fast");
  const opened = () =>
    pool.stats().groups.fast.total === 2 && pool.stats().groups.fast.pending === 0;
  for (let i = 0; i < 200 && !opened(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(opened(), "the second session opened");
  await extra.release();
  // The second session is idle: the next lease takes it.
  const second = await pool.lease("fast");
  assert.notEqual(await pidOf(second), await pidOf(first));
  return [first, second];
}

describe("pipelined group: which session a lease shares", () => {
  it("while every session is busy, equally busy sessions go to the same one, lease after lease", async () => {
    const held = await twoBusySessions();
    // A caller that leaves its share and comes back finds the session it left:
    // queries issued together then go out together on one session (one write).
    const pids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const h = await pool.lease("fast");
      pids.push(await pidOf(h));
      await h.release();
    }
    assert.equal(new Set(pids).size, 1, `leases went to sessions ${pids.join(", ")}`);
    for (const h of held) await h.release();
  });

  it("the least busy session wins over list order", async () => {
    const [first, second] = await twoBusySessions();
    const again = await pool.lease("fast");
    // Both had one holder: `again` joined one of them; the other is now the least busy.
    const next = await pool.lease("fast");
    assert.notEqual(await pidOf(next), await pidOf(again));
    for (const h of [first, second, again, next]) await h.release();
  });

  it("idle sessions are taken in turn, so a light load still spreads over them", async () => {
    const held = await twoBusySessions();
    for (const h of held) await h.release();
    const pids: number[] = [];
    for (let i = 0; i < 4; i++) pids.push(await pool.withHandler("fast", pidOf));
    assert.equal(new Set(pids).size, 2, `leases went to sessions ${pids.join(", ")}`);
    assert.notEqual(pids[0], pids[1]);
  });

  it("a session that died while idle leaves the rotation at the next leases", async () => {
    const held = await twoBusySessions();
    for (const h of held) await h.release();
    const victim = driver.sessions[0];
    victim.kill();
    const pids: number[] = [];
    for (let i = 0; i < 2; i++) pids.push(await pool.withHandler("fast", pidOf));
    assert.ok(!pids.includes(victim.pid), `a dead session served: ${pids.join(", ")}`);
    assert.equal(pool.stats().groups.fast.total, 1);
  });
});
