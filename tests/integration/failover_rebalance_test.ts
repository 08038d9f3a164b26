/**
 * An endpoint that goes down and comes back under steady load, per driver,
 * against two real servers: callers see no OfflineError and no timeout while
 * the other endpoint serves, and the endpoint back takes its share of the
 * group's sessions again within about two seconds (the time is printed),
 * never above connection_count.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, createPool, type Pool } from "../../mod.ts";
import { type PrivateTestServer, startPrivateServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make: makeDriver } of drivers) {
  describe(`rebalancing over ${name} on two real servers`, () => {
    let a: PrivateTestServer;
    let b: PrivateTestServer;
    let pool: Pool;

    before(async () => {
      [a, b] = await Promise.all([startPrivateServer(), startPrivateServer()]);
    });

    after(async () => {
      await pool?.end();
      await Promise.all([a?.dispose(), b?.dispose()]);
    });

    it("an endpoint down under 40 callers costs only the calls in flight on it; back, it takes its share again", async () => {
      pool = createPool({
        db: [
          endpointOf(a, { id: "a", connect_timeout: 2 }),
          endpointOf(b, { id: "b", connect_timeout: 2 }),
        ],
        groups: { g: { connection_count: 10 } },
        driver: makeDriver(),
        reconnectBaseMs: 100,
        reconnectMaxMs: 500,
      });
      const outcomes = new Map<string, number>();
      let most = 0;
      let stop = false;
      const callers = Array.from({ length: 40 }, async () => {
        while (!stop) {
          let outcome = "ok";
          try {
            await pool.withHandler("g", (db) => db.query("select pg_sleep(0.002)"), {
              timeoutMs: 5000,
            });
          } catch (err) {
            outcome = err instanceof ConnectionError ? "ConnectionError" : (err as Error).name;
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          most = Math.max(most, pool.stats().groups.g.total);
        }
      });
      const onB = () => pool.stats().endpoints[1].connections;
      let beforeStop = 0;
      let ms = 0;
      // Whatever fails, the callers stop: a failed assertion must not leave them looping.
      try {
        // Warm-up: until b holds its share (a loaded machine connects slowly), within 10 s.
        const warm = Date.now();
        while (onB() < 3 && Date.now() - warm < 10_000) await sleep(10);
        beforeStop = onB();
        assert.ok(beforeStop >= 3, `b held ${beforeStop} sessions before it stopped`);
        await b.stop();
        await sleep(1000);
        assert.equal(onB(), 0);
        assert.equal(pool.stats().endpoints[1].up, false);
        await b.start();
        const back = Date.now();
        while (onB() < 4 && Date.now() - back < 10_000) await sleep(10);
        ms = Date.now() - back;
      } finally {
        stop = true;
        await Promise.all(callers);
      }
      const summary = [...outcomes].map(([k, v]) => `${k}=${v}`).join(", ");
      console.log(`[${name}] b back to holding ${onB()} of 10 sessions: ${ms} ms (${summary})`);
      assert.ok(onB() >= 4, `b holds ${onB()} of 10 sessions 10 s after its return`);
      assert.ok(ms < 5000, `b took ${ms} ms to take its share`);
      assert.ok(most <= 10, `the group held ${most} sessions`);
      // Only the calls in flight on b when it stopped may fail; nobody sees the pool offline.
      const failed = [...outcomes].filter(([k]) => k !== "ok");
      assert.deepEqual(failed.filter(([k]) => k !== "ConnectionError"), [], summary);
      assert.ok((outcomes.get("ConnectionError") ?? 0) <= beforeStop + 2, summary);
    });
  });
}
