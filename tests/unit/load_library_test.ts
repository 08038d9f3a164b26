/**
 * `LOAD 'library'` loads a shared library into the session for good: no
 * RESET or DISCARD unloads it. With `reset: "auto"` the session is closed at
 * release, so the next caller never runs with a library another loaded; a
 * pipelined group refuses it, as any session change.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, PoolError } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

describe("LOAD of a library", () => {
  for (
    const sql of ["LOAD 'auto_explain'", "load '$libdir/plugins/auto_explain'", "/* x; */ Load 'a'"]
  ) {
    it(`${JSON.stringify(sql)}: the session is closed at release, the next caller gets a new one`, async () => {
      const driver = new FakeDriver();
      const pool = createPool({
        db: [{ host: "a", query_timeout: 0 }],
        groups: { g: { connection_count: 1 } },
        driver,
      });
      await pool.withHandler("g", (db) => db.query(sql));
      await pool.withHandler("g", (db) => db.query("SELECT 1"));
      assert.equal(driver.sessions.length, 2);
      assert.equal(driver.sessions[0].closed, true);
      await pool.end();
    });
  }

  it("reset: none trusts the caller and keeps the session", async () => {
    const driver = new FakeDriver();
    const pool = createPool({
      db: [{ host: "a", query_timeout: 0 }],
      groups: { g: { connection_count: 1, reset: "none" } },
      driver,
    });
    await pool.withHandler("g", (db) => db.query("LOAD 'auto_explain'"));
    await pool.withHandler("g", (db) => db.query("SELECT 1"));
    assert.equal(driver.sessions.length, 1);
    await pool.end();
  });

  it("a pipelined group refuses it", async () => {
    const driver = new FakeDriver();
    const pool = createPool({
      db: [{ host: "a", query_timeout: 0 }],
      groups: { p: { connection_count: 1, pipeline: true } },
      driver,
    });
    await assert.rejects(
      pool.withHandler("p", (db) => db.query("LOAD 'auto_explain'")),
      (err) => err instanceof PoolError && /session state/.test(err.message),
    );
    assert.equal(driver.queries.some((q) => /load/i.test(q.text)), false, "never sent");
    await pool.end();
  });
});
