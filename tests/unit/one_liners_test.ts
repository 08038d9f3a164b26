import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPool,
  end,
  init,
  PoolClosedError,
  query,
  UnconfiguredGroupError,
} from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const groups = { default: { connection_count: 1 }, jobs: { connection_count: 1 } };

describe("pool.query(text, params?, options?)", () => {
  it("runs one statement on the group `default` and releases the session", async () => {
    const driver = new FakeDriver();
    const pool = createPool({ db: { host: "h" }, groups, driver });
    const r = await pool.query("SELECT $1", [7]);
    assert.equal(r.rows.length, 1);
    assert.equal(r.rows[0].value, 7);
    assert.equal(pool.stats().groups.default.leased, 0);
    assert.equal(pool.stats().groups.default.idle, 1);
    assert.equal(pool.stats().groups.jobs.idle, 0);
    await pool.end();
  });

  it("uses options.group when given", async () => {
    const driver = new FakeDriver();
    const pool = createPool({ db: { host: "h" }, groups, driver });
    await pool.query("SELECT $1", [1], { group: "jobs" });
    assert.equal(pool.stats().groups.jobs.idle, 1);
    assert.equal(pool.stats().groups.default.idle, 0);
    await pool.end();
  });

  it("rejects an unknown group, a non-string group and a bad text before leasing", async () => {
    const driver = new FakeDriver();
    const pool = createPool({ db: { host: "h" }, groups, driver });
    await assert.rejects(pool.query("SELECT 1", [], { group: "nope" }), UnconfiguredGroupError);
    await assert.rejects(
      pool.query("SELECT 1", [], { group: 5 as unknown as string }),
      (e: Error) => e instanceof TypeError && /group/.test(e.message),
    );
    await assert.rejects(pool.query(5 as unknown as string), TypeError);
    assert.equal(driver.open.size, 0);
    await pool.end();
  });

  it("honours the lease options (an aborted signal rejects with its reason)", async () => {
    const driver = new FakeDriver();
    const pool = createPool({ db: { host: "h" }, groups, driver });
    const reason = new Error("stop");
    await assert.rejects(pool.query("SELECT 1", [], { signal: AbortSignal.abort(reason) }), reason);
    await pool.end();
  });

  it("rejects with PoolClosedError after end()", async () => {
    const pool = createPool({ db: { host: "h" }, groups, driver: new FakeDriver() });
    await pool.end();
    await assert.rejects(pool.query("SELECT 1"), PoolClosedError);
  });
});

describe("top-level query() on the default pool", () => {
  it("goes through the pool init() set up, and rejects with PoolClosedError after end()", async () => {
    const driver = new FakeDriver();
    init({ db: { host: "h" }, groups, driver });
    assert.equal((await query("SELECT $1", [3])).rows[0].value, 3);
    await query("SELECT $1", [4], { group: "jobs" });
    assert.equal(driver.open.size, 2);
    await end();
    assert.equal(driver.open.size, 0);
    await assert.rejects(query("SELECT 1"), PoolClosedError);
  });
});
