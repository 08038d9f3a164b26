import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  ConnectionError,
  createPool,
  type Pool,
  PoolClosedError,
  PoolError,
} from "../../mod.ts";
import { defaultResponder, FakeDriver } from "../support/fake_driver.ts";

let pool: Pool;
let driver: FakeDriver;

function setup(count = 2): void {
  driver = new FakeDriver();
  pool = createPool({
    db: [{ host: "a" }, { host: "b" }],
    groups: { fast: { connection_count: count, pipeline: true } },
    driver,
  });
}

afterEach(async () => {
  await pool.end();
  assert.equal(driver.open.size, 0);
});

describe("pipelined group", () => {
  it("shares at most connection_count sessions among many concurrent handlers", async () => {
    setup(2);
    let inFlight = 0;
    let peak = 0;
    driver.respond = async (text, params, s) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return defaultResponder(text, params, s);
    };
    // The first wave opens sessions while it runs; the second spreads over them.
    await Promise.all([1, 2, 3].map(() => pool.withHandler("fast", (db) => db.query("SELECT 1"))));
    const out = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) =>
          pool.withHandler("fast", async (db) => (await db.query("SELECT $1", [i])).rows[0].value),
      ),
    );
    assert.deepEqual(out, Array.from({ length: 100 }, (_, i) => i));
    assert.ok(driver.sessions.length <= 2, `${driver.sessions.length} sessions`);
    assert.ok(peak > 2, "queries overlapped on shared sessions");
    assert.deepEqual(
      new Set(driver.sessions.map((s) => s.endpoint)),
      new Set(["a:5432", "b:5432"]),
    );
    const s = pool.stats().groups.fast;
    assert.equal(s.leased, 0);
    assert.equal(s.acquired, 103);
  });

  it("refuses transactions and session-changing statements with a PoolError naming the group", async () => {
    setup();
    await pool.withHandler("fast", async (db) => {
      for (
        const sql of [
          "BEGIN",
          "commit",
          "SET search_path = x",
          "LISTEN x",
          "SELECT pg_advisory_lock(1)",
        ]
      ) {
        await assert.rejects(
          db.query(sql),
          (err) => err instanceof PoolError && /"fast".*pipelined/.test(err.message),
          sql,
        );
      }
      await assert.rejects(db.commit(), PoolError);
      await assert.rejects(db.rollback(), PoolError);
      assert.throws(() => db.markDirty(), PoolError);
      await db.query("SELECT 1");
    });
    assert.equal(driver.queries.length, 1, "nothing refused reached the server");
  });

  it("drops a broken session and opens another", async () => {
    setup(1);
    await pool.withHandler("fast", (db) => db.query("SELECT 1"));
    await assert.rejects(pool.withHandler("fast", (db) => db.query("KILL")), ConnectionError);
    assert.equal(pool.stats().groups.fast.total, 0);
    await pool.withHandler("fast", (db) => db.query("SELECT 1"));
    assert.equal(driver.sessions.length, 2);
  });

  it("is refused for a transactional group by the config", () => {
    assert.throws(
      () =>
        createPool({
          db: { host: "a" },
          groups: { g: { connection_count: 1, pipeline: true, autocommit: false } },
        }),
      (err) => err instanceof ConfigError && err.path === "groups.g.pipeline",
    );
    setup();
  });

  it("end() closes every shared session and refuses new leases", async () => {
    setup(2);
    await Promise.all([1, 2, 3].map(() => pool.withHandler("fast", (db) => db.query("SELECT 1"))));
    await pool.end();
    assert.equal(driver.open.size, 0);
    await assert.rejects(pool.withHandler("fast", () => 1), PoolClosedError);
  });
});
