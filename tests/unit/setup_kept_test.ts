/**
 * A group's on_connect / sqlprepare setup is never silently lost: a session
 * whose release would undo it (RESET ALL, DISCARD TEMP after the handler's
 * own SET or temp table) or whose handler wiped it (DISCARD ALL, DEALLOCATE
 * ALL) is closed at release, and the next caller gets a freshly set-up one.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

function setup(groupExtra: Record<string, unknown> = {}) {
  const driver = new FakeDriver();
  const pool = createPool({
    db: [{ host: "a", query_timeout: 0 }],
    groups: { g: { connection_count: 1, on_connect: "SET search_path = app", ...groupExtra } },
    driver,
  });
  const setups = () => driver.queries.filter((q) => q.text === "SET search_path = app").length;
  return { driver, pool, setups };
}

describe("the setup of a group's sessions is kept or the session is replaced", () => {
  for (
    const sql of [
      "SET statement_timeout = 1000",
      "CREATE TEMP TABLE t (a int)",
      "DISCARD ALL",
      "discard   all",
      "DEALLOCATE ALL",
      "DEALLOCATE PREPARE ALL",
    ]
  ) {
    it(`after ${JSON.stringify(sql)} the next caller gets a session set up again`, async () => {
      const { driver, pool, setups } = setup();
      await pool.withHandler("g", (db) => db.query(sql));
      await pool.withHandler("g", (db) => db.query("SELECT 1"));
      assert.equal(setups(), 2, driver.queries.map((q) => q.text).join(" | "));
      assert.equal(driver.sessions.length, 2);
      assert.equal(driver.sessions[0].closed, true);
      await pool.end();
    });
  }

  it("a handler that changes nothing the setup holds keeps its session", async () => {
    const { driver, pool, setups } = setup();
    await pool.withHandler("g", (db) => db.query("SELECT 1"));
    await pool.withHandler("g", (db) => db.query("LISTEN x"));
    await pool.withHandler("g", (db) => db.query("SELECT 2"));
    assert.equal(setups(), 1);
    assert.equal(driver.sessions.length, 1);
    await pool.end();
  });

  it("a group without setup resets in place (no reconnect)", async () => {
    const driver = new FakeDriver();
    const pool = createPool({
      db: [{ host: "a", query_timeout: 0 }],
      groups: { g: { connection_count: 1 } },
      driver,
    });
    await pool.withHandler("g", (db) => db.query("SET statement_timeout = 1000"));
    await pool.withHandler("g", (db) => db.query("DISCARD ALL"));
    await pool.withHandler("g", (db) => db.query("SELECT 1"));
    assert.equal(driver.sessions.length, 1);
    await pool.end();
  });
});
