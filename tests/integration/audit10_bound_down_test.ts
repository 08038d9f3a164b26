/**
 * A group bound (`groups.<g>.endpoints`) to an endpoint that is down, per
 * driver: refused or stalled, its callers get `OfflineError` naming the group
 * within about `connect_timeout` (never a hang, never `AcquireTimeoutError`,
 * never a session on an endpoint the group is not bound to), while an
 * unbound group of the same pool keeps serving from the live endpoint;
 * `pool.open()` rejects naming the bound group.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, OfflineError, type Pool } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { freePort, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

for (const { name, make: makeDriver } of runtimeDrivers()) {
  describe(`a group bound to a down endpoint over ${name}`, () => {
    let server: TestServer;
    let proxy: TestProxy;
    let downPort: number;
    const pools: Pool[] = [];

    before(async () => {
      [server] = await sharedServers();
      proxy = await startProxy({ target: server });
      downPort = await freePort();
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await proxy?.close();
    });

    function pool(): Pool {
      const p = createPool({
        db: [
          endpointOf(server, { id: "up", connect_timeout: 1 }),
          endpointOf(server, { id: "refused", port: downPort, connect_timeout: 1 }),
          endpointOf(server, {
            id: "stalled",
            host: proxy.host,
            port: proxy.port,
            connect_timeout: 1,
          }),
        ],
        groups: {
          free: { connection_count: 3 },
          onRefused: { connection_count: 3, endpoints: ["refused"] },
          onStalled: { connection_count: 3, endpoints: ["stalled"] },
          primaryOnRefused: {
            connection_count: 2,
            endpoints: ["refused"],
            target_session_attrs: "primary",
          },
        },
        driver: makeDriver(),
      });
      pools.push(p);
      return p;
    }

    it("refused: OfflineError naming the group at once, no session elsewhere; the free group serves", async () => {
      const p = pool();
      let ran = 0;
      for (const g of ["onRefused", "primaryOnRefused"]) {
        const t0 = Date.now();
        const calls = Array.from(
          { length: 10 },
          () => p.withHandler(g, () => ran++, { timeoutMs: 10_000 }),
        );
        for (const r of await Promise.allSettled(calls)) {
          assert.equal(r.status, "rejected");
          const err = (r as PromiseRejectedResult).reason;
          assert.ok(err instanceof OfflineError, String(err));
          assert.match(err.message, new RegExp(`group "${g}"`));
        }
        const ms = Date.now() - t0;
        assert.ok(ms < 3000, `${g}: 10 callers took ${ms} ms to fail`);
      }
      assert.equal(ran, 0, "fn never ran on an endpoint the group is not bound to");
      for (let i = 0; i < 6; i++) {
        assert.equal(await p.withHandler("free", (db) => db.endpoint.id), "up");
      }
      const eps = p.stats().endpoints;
      assert.equal(eps[1].connections, 0);
      assert.equal(p.stats().groups.onRefused.total, 0);
    });

    it("stalled: OfflineError within about connect_timeout for 10 concurrent callers, slots freed", async () => {
      proxy.stall();
      try {
        const p = pool();
        await p.withHandler("free", () => 1);
        const t0 = Date.now();
        let ran = 0;
        const calls = Array.from(
          { length: 10 },
          () => p.withHandler("onStalled", () => ran++, { timeoutMs: 10_000 }),
        );
        const results = await Promise.allSettled(calls);
        const ms = Date.now() - t0;
        for (const r of results) {
          assert.equal(r.status, "rejected");
          const err = (r as PromiseRejectedResult).reason;
          assert.ok(err instanceof OfflineError, String(err));
          assert.match(err.message, /group "onStalled"/);
        }
        console.log(`[${name}] 10 callers of a group bound to a stalled endpoint: ${ms} ms`);
        assert.ok(ms < 4000, `${ms} ms (connect_timeout 1 s)`);
        assert.equal(ran, 0);
        assert.equal(p.stats().groups.onStalled.total, 0, "no slot held by a stalled connect");
        // Meanwhile and after, the free group is served by the live endpoint.
        for (let i = 0; i < 6; i++) {
          assert.equal(await p.withHandler("free", (db) => db.endpoint.id), "up");
        }
      } finally {
        proxy.pass();
      }
    });

    it("pool.open() rejects with OfflineError naming a bound group that cannot get its sessions", async () => {
      const p = pool();
      await assert.rejects(p.open(), (err) => {
        assert.ok(err instanceof OfflineError, String(err));
        assert.match(err.message, /group "(onRefused|primaryOnRefused)"/);
        return true;
      });
      assert.equal(p.stats().endpoints[1].connections, 0);
    });
  });
}
