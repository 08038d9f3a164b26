/**
 * A session that opens and then never answers the role query (a partition
 * that began right after the handshake; Bun.SQL and servers before
 * PostgreSQL 14 need the query) is given up at `connect_timeout`, closed,
 * and counted as an outage: the caller is never held longer.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, OfflineError } from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { type Built, endAll, RoleDriver, tick } from "./endpoints_support.ts";
import { defaultResponder } from "../support/fake_driver.ts";
import { ROLE_QUERY } from "../../src/endpoints/roles.ts";

const made: Built[] = [];
afterEach(() => endAll(made));

describe("EndpointScope.connect() when the role query gets no answer", () => {
  it("gives up at connect_timeout with OfflineError, closes the session, backs the endpoint off", async () => {
    const driver = new RoleDriver();
    driver.reports = false;
    const answer = driver.fake.respond;
    // The server answers the handshake, then nothing more.
    driver.fake.respond = (text, params, s) =>
      text === ROLE_QUERY ? new Promise(() => {}) : answer(text, params, s);
    const clock = new FakeClock();
    const pool = createPool({
      db: [{ host: "a", port: 5432, name: "app", user: "u", connect_timeout: 2 }],
      groups: { w: { connection_count: 1, target_session_attrs: "primary" } },
      driver,
    }, { clock });
    made.push({ pool, driver, clock });
    let outcome = "pending" as unknown;
    pool.withHandler("w", () => 1).then((v) => outcome = v, (e) => outcome = e);
    for (let i = 0; i < 5; i++) await tick();
    const now = () => outcome;
    assert.equal(now(), "pending");
    assert.equal(driver.fake.open.size, 1, "the session opened");
    clock.advance(2000);
    for (let i = 0; i < 5; i++) await tick();
    assert.ok(outcome instanceof OfflineError, String(outcome));
    assert.match((outcome as Error).message, /role/);
    assert.equal(driver.fake.open.size, 0, "the silent session is closed");
    assert.equal(pool.stats().endpoints[0].up, false);
    assert.equal(pool.stats().groups.w.total, 0);
    assert.equal(clock.pendingTimers, 0);
    driver.fake.respond = defaultResponder;
  });
});
