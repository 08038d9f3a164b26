import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, createPool, type Driver } from "../../mod.ts";
import { normalizeConfig } from "../../src/config/normalize.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const groups = { default: { connection_count: 1 } };

/** The fake driver, counting `unrefWhenIdle` calls on the sessions it opens. */
function countingDriver(): { driver: Driver; calls: () => number } {
  const fake = new FakeDriver();
  let calls = 0;
  const driver: Driver = {
    name: "counting",
    connect: async (params) =>
      Object.assign(await fake.connect(params), { unrefWhenIdle: () => void calls++ }),
  };
  return { driver, calls: () => calls };
}

describe("allowExitOnIdle", () => {
  it("defaults to false, takes a boolean, refuses anything else", () => {
    assert.equal(normalizeConfig({ db: { host: "h" }, groups }).allowExitOnIdle, false);
    assert.equal(
      normalizeConfig({ db: { host: "h" }, groups, allowExitOnIdle: true }).allowExitOnIdle,
      true,
    );
    assert.throws(
      () => normalizeConfig({ db: { host: "h" }, groups, allowExitOnIdle: "yes" }),
      (e: Error) => e instanceof ConfigError && /allowExitOnIdle/.test(e.message),
    );
  });

  it("asks every new session to let the process exit while idle, only when set", async () => {
    for (const allowExitOnIdle of [true, false]) {
      const { driver, calls } = countingDriver();
      const pool = createPool({ db: { host: "h" }, groups, driver, allowExitOnIdle });
      await pool.query("SELECT 1");
      assert.equal(calls(), allowExitOnIdle ? 1 : 0);
      await pool.end();
    }
  });
});
