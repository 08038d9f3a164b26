/**
 * pool.listen() honours the caller's deadline and signal, as every wait does:
 * over a network that went silent (a stalled proxy), a listen with `timeoutMs`
 * fails with AcquireTimeoutError in time, one with an aborted signal fails with
 * its reason, and neither leaves its callback subscribed once the network is back.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { AcquireTimeoutError, createPool, type Pool } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers({ bunSql: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make } of drivers) {
  describe(`pool.listen() deadlines over ${name}`, () => {
    let server: TestServer;
    let proxy: TestProxy;
    let pool: Pool;

    before(async () => {
      server = (await sharedServers())[0];
      proxy = await startProxy({ target: server });
      pool = createPool({
        db: { ...endpointOf(server), host: proxy.host, port: proxy.port },
        groups: { g: { connection_count: 1 } },
        driver: make(),
        reconnectBaseMs: 50,
        reconnectMaxMs: 200,
      });
    });

    after(async () => {
      await pool?.end();
      await proxy?.close();
    });

    it("fails in time with AcquireTimeoutError or the signal's reason, and leaves no subscription", async () => {
      proxy.stall();
      const got: string[] = [];
      const started = Date.now();
      const timedOut = await pool.listen("dl_timeout", (p) => void got.push(p), { timeoutMs: 300 })
        .then(() => "listened", (err: unknown) => err);
      const tookMs = Date.now() - started;
      assert.ok(timedOut instanceof AcquireTimeoutError, String(timedOut));
      assert.match(String((timedOut as Error).message), /dl_timeout.*300 ms/);
      assert.ok(tookMs < 3000, `took ${tookMs} ms`);

      const controller = new AbortController();
      const reason = new Error("the request went away");
      setTimeout(() => controller.abort(reason), 100);
      const aborted = await pool.listen("dl_abort", (p) => void got.push(p), {
        signal: controller.signal,
      }).then(() => "listened", (err: unknown) => err);
      assert.equal(aborted, reason);

      // The network is back: a listen works, and the two given-up ones never deliver.
      proxy.pass();
      const stop = await pool.listen("dl_ok", (p) => void got.push(p));
      await pool.query(
        "SELECT pg_notify('dl_timeout', 'late1'), pg_notify('dl_abort', 'late2'), pg_notify('dl_ok', 'ok')",
        [],
        { group: "g" },
      );
      const deadline = Date.now() + 8000;
      while (!got.includes("ok") && Date.now() < deadline) await sleep(20);
      await sleep(200);
      assert.deepEqual(got, ["ok"]);
      await stop();
    });
  });
}
