import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, createPool, OfflineError } from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { type Built, endAll, RoleDriver } from "./endpoints_support.ts";

const A = { host: "a", port: 5432, name: "app", user: "u" };
const B = { host: "b", port: 5432, name: "app", user: "u" };

const made: Built[] = [];

function setup(groups: Record<string, Record<string, unknown>>) {
  const driver = new RoleDriver();
  const clock = new FakeClock();
  // deno-lint-ignore no-explicit-any
  const pool = createPool({ db: [A, B], groups: groups as any, driver }, { clock });
  made.push({ pool, driver, clock });
  return { pool, driver, clock };
}

afterEach(() => endAll(made));

describe("pool.open()", () => {
  it("opens every group's connection_count sessions, spread over the endpoints", async () => {
    const { pool, driver } = setup({
      web: { connection_count: 4 },
      shared: { connection_count: 2, pipeline: true },
    });
    await pool.open();
    const s = pool.stats();
    assert.deepEqual([s.groups.web.total, s.groups.web.idle], [4, 4]);
    assert.equal(s.groups.shared.total, 2);
    assert.equal(driver.fake.open.size, 6);
    assert.deepEqual(s.endpoints.map((e) => e.connections), [3, 3]);
    // Leases find them idle: no connect.
    const attempts = driver.fake.connectAttempts.length;
    await Promise.all([1, 2, 3, 4].map(() => pool.withHandler("web", () => 1)));
    assert.equal(driver.fake.connectAttempts.length, attempts);
  });

  it("opens them all on the endpoint that is up when the other is down", async () => {
    const { pool, driver } = setup({ web: { connection_count: 4 } });
    driver.fake.down.add("b:5432");
    await pool.open();
    assert.deepEqual(pool.stats().endpoints.map((e) => e.connections), [4, 0]);
  });

  it("rejects with OfflineError naming the group when no endpoint can be reached", async () => {
    const { pool, driver } = setup({
      web: { connection_count: 3 },
      shared: { connection_count: 2, pipeline: true },
    });
    driver.fake.down.add("a:5432");
    driver.fake.down.add("b:5432");
    await assert.rejects(pool.open(), (err) => {
      assert.ok(err instanceof OfflineError, String(err));
      assert.match(err.message, /group "(web|shared)"/);
      return true;
    });
    assert.equal(pool.stats().groups.web.waiting, 0);
  });

  it("rejects with the ConnectionError of a refused login", async () => {
    const { pool, driver } = setup({ web: { connection_count: 2 } });
    const refusal = () =>
      Object.assign(new Error("password authentication failed"), { code: "28P01" });
    driver.failNext.push(refusal, refusal);
    await assert.rejects(
      pool.open(),
      (err) => err instanceof ConnectionError && err.code === "28P01",
    );
  });

  it("rejects with PoolClosedError after end()", async () => {
    const { pool, clock } = setup({ web: { connection_count: 1 } });
    const ending = pool.end();
    clock.advance(1);
    await ending;
    await assert.rejects(pool.open(), { name: "PoolClosedError" });
  });
});
