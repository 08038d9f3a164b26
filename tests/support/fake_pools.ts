/**
 * Pools a unit test file builds on the fake driver and clock, and their end
 * after each test with a leak check: no session open, no timer armed.
 */
import assert from "node:assert/strict";
import { createPool, type Pool, type PoolConfigInput } from "../../mod.ts";
import { FakeDriver } from "./fake_driver.ts";
import { FakeClock } from "./fake_clock.ts";

/** A pool a test built, with its fake driver and clock. */
export interface FakePool {
  pool: Pool;
  driver: FakeDriver;
  clock: FakeClock;
}

/** The pools of one test file. */
export class FakePools {
  #made: FakePool[] = [];

  /**
   * Builds a pool on a new fake driver and clock.
   *
   * @param groups The groups.
   * @param db The endpoints.
   * @returns The pool, its driver and its clock.
   */
  make(groups: PoolConfigInput["groups"], db: PoolConfigInput["db"]): FakePool {
    const driver = new FakeDriver();
    const clock = new FakeClock();
    const built = { pool: createPool({ db, groups, driver }, { clock }), driver, clock };
    this.#made.push(built);
    return built;
  }

  /**
   * Ends every pool built so far and checks none left a session open or a timer armed.
   *
   * @param settle Let one macrotask run after each end before checking (closes fired from timers).
   */
  async endAll(settle = false): Promise<void> {
    for (const { pool, driver, clock } of this.#made.splice(0)) {
      const ending = pool.end();
      clock.advance(60_000);
      await ending;
      if (settle) await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(driver.open.size, 0, "sessions left open");
      assert.equal(clock.pendingTimers, 0, "timers left armed");
    }
  }
}
