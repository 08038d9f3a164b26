/**
 * `prefer-standby` when its standby stalls (behind the test proxy: accepts,
 * forwards nothing, on open connections too), per driver, on a real primary
 * and a streaming standby: a caller mid-query on the standby gets a
 * `ConnectionError` after `query_timeout` and a grace; the next callers are
 * served by the primary without an error, within the ping and connect bounds;
 * once the standby passes again, the group goes back to it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, createPool, isConnectionBroken, type Pool } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("prefer-standby with a stalled standby", () => {
  let pair: StandbyPair;
  let proxy: TestProxy;
  const pools: Pool[] = [];

  before(async () => {
    pair = await startStandbyPair();
    proxy = await startProxy({ target: pair.standby });
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await proxy?.close();
    await pair?.dispose();
  });

  for (const { name, make: makeDriver } of runtimeDrivers()) {
    it(`${name}: falls back to the primary while the standby stalls, and goes back after`, async () => {
      proxy.pass();
      const p = createPool({
        db: pair.endpoints({
          connect_timeout: 1,
          standby: { host: proxy.host, port: proxy.port, query_timeout: 500 },
        }),
        groups: { ps: { connection_count: 2, target_session_attrs: "prefer-standby" } },
        driver: makeDriver(),
        pingAfterIdleMs: 0,
        pingTimeoutMs: 300,
        reconnectBaseMs: 100,
        reconnectMaxMs: 300,
      });
      pools.push(p);
      const where = () => p.withHandler("ps", (db) => db.endpoint.id, { timeoutMs: 10_000 });
      const ids = await Promise.all([where(), where(), where(), where()]);
      assert.deepEqual([...new Set(ids)], ["standby"]);

      // One caller is mid-query when the standby stalls.
      const inFlight = p.withHandler("ps", (db) => db.query("select pg_sleep(0.2)"));
      await sleep(20);
      proxy.stall();
      const t0 = Date.now();
      await assert.rejects(inFlight, (err) => {
        assert.ok(err instanceof ConnectionError && isConnectionBroken(err), String(err));
        return true;
      });
      const cutMs = Date.now() - t0;
      assert.ok(cutMs < 5000, `the in-flight query took ${cutMs} ms to fail`);

      const t1 = Date.now();
      const during = await Promise.all(Array.from({ length: 6 }, where));
      const fallbackMs = Date.now() - t1;
      assert.deepEqual([...new Set(during)], ["primary"], during.join());
      console.log(
        `[${name}] standby stalled: in-flight query cut after ${cutMs} ms, ` +
          `6 callers served by the primary in ${fallbackMs} ms`,
      );
      assert.ok(fallbackMs < 5000, `${fallbackMs} ms`);
      assert.ok(p.stats().groups.ps.total <= 2);

      proxy.pass();
      const t2 = Date.now();
      let back = "";
      while (back !== "standby") {
        assert.ok(Date.now() - t2 < 10_000, "the group never went back to the standby");
        back = await where();
        await sleep(20);
      }
      console.log(
        `[${name}] standby passes again → prefer-standby back on it: ${Date.now() - t2} ms`,
      );
      assert.ok(p.stats().groups.ps.total <= 2);
      await p.end();
    });
  }
});
