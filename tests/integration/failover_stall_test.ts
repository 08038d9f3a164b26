/**
 * A server that accepts connections and then says nothing, per driver: a
 * group that can reach no endpoint gets OfflineError (naming the group and
 * its target) within about connect_timeout, never a hang; a group whose
 * stalled endpoint has a healthy peer keeps serving from the peer.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, OfflineError, type Pool } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

for (const { name, make: makeDriver } of drivers) {
  describe(`stalled endpoints over ${name}`, () => {
    let server: TestServer;
    let proxy: TestProxy;
    const pools: Pool[] = [];

    before(async () => {
      [server] = await sharedServers();
      proxy = await startProxy({ target: server });
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await proxy?.close();
    });

    function pool(groups: Record<string, Record<string, unknown>>, direct: boolean): Pool {
      const stalled = endpointOf(server, {
        id: "stalled",
        connect_timeout: 1,
        host: proxy.host,
        port: proxy.port,
      });
      const db = direct
        ? [stalled, endpointOf(server, { id: "direct", connect_timeout: 1 })]
        : [stalled];
      // deno-lint-ignore no-explicit-any
      const p = createPool({ db, groups: groups as any, driver: makeDriver() });
      pools.push(p);
      return p;
    }

    it("no reachable endpoint: OfflineError naming group and target within about connect_timeout", async () => {
      proxy.stall();
      const p = pool({ w: { connection_count: 2, target_session_attrs: "read-write" } }, false);
      const t0 = Date.now();
      await assert.rejects(p.withHandler("w", () => 1, { timeoutMs: 10_000 }), (err) => {
        assert.ok(err instanceof OfflineError, String(err));
        assert.match(err.message, /group "w" \(target_session_attrs "read-write"\)/);
        assert.match(err.message, /no endpoint can be reached/);
        return true;
      });
      const ms = Date.now() - t0;
      console.log(`[${name}] stalled endpoint to OfflineError: ${ms} ms (connect_timeout 1 s)`);
      assert.ok(ms >= 900 && ms < 3000, `${ms} ms`);
      // Backed off now: the next call fails at once.
      const t1 = Date.now();
      await assert.rejects(p.withHandler("w", () => 1), OfflineError);
      assert.ok(Date.now() - t1 < 500);
      proxy.pass();
    });

    it("a stalled endpoint with a healthy peer: callers are served by the peer", async () => {
      proxy.stall();
      const p = pool({ g: { connection_count: 4 } }, true);
      const t0 = Date.now();
      const ids = await Promise.all(
        Array.from(
          { length: 8 },
          () => p.withHandler("g", (db) => db.endpoint.id, { timeoutMs: 5000 }),
        ),
      );
      assert.ok(ids.every((id) => id === "direct"), ids.join());
      console.log(`[${name}] 8 calls with one stalled endpoint: ${Date.now() - t0} ms`);
      // The connect left on the stalled endpoint gives up at connect_timeout and backs it off.
      const t1 = Date.now();
      while (p.stats().endpoints[0].up && Date.now() - t1 < 5000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(p.stats().endpoints[0].up, false);
      assert.ok(p.stats().groups.g.total <= 4);
      proxy.pass();
    });
  });
}
