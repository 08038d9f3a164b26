/**
 * `listenPingIntervalMs` / `listenPingTimeoutMs` at tiny values against a real
 * server: what a user sees when the keep-alive is set tighter than the network.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  createPool,
  type Pool,
  type PoolConfigInput,
  PoolError,
} from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { startProxy } from "../../src/testing/mod.ts";

const drivers = runtimeDrivers({ bunSql: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

for (const { name, make } of drivers) {
  describe(`listen keep-alive at tiny values over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    function makePool(extra: Partial<PoolConfigInput>): { pool: Pool; app: string } {
      const app = `atk_lpo_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const pool = createPool({
        db: endpointOf(server, { application_name: app }),
        groups: { g: { connection_count: 1 } },
        driver: make(),
        reconnectBaseMs: 20,
        reconnectMaxMs: 100,
        ...extra,
      });
      pools.push(pool);
      return { pool, app };
    }

    /** Listen-session pids seen in pg_stat_activity while `ms` pass. */
    async function listenPids(app: string, ms: number): Promise<Set<number>> {
      const pids = new Set<number>();
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const rows = await adminQuery(
          server,
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        for (const r of rows) pids.add(Number(r.pid));
        await sleep(40);
      }
      return pids;
    }

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    /** A pool behind a proxy that delays every chunk 30 ms: no LISTEN is answered within 5 ms. */
    async function slowPool(app: string) {
      const proxy = await startProxy({ target: server });
      proxy.delay(30);
      const { pool } = makePool({
        db: endpointOf(server, { host: proxy.host, port: proxy.port, application_name: app }),
        listenPingIntervalMs: 1,
        listenPingTimeoutMs: 5,
      });
      return { pool, proxy };
    }

    it("a listenPingTimeoutMs shorter than the LISTEN's round trip rejects pool.listen, typed, and nothing keeps reconnecting", async () => {
      const app = `atk_lpo_short_${++seq}`;
      const { pool, proxy } = await slowPool(app);
      try {
        const err = await pool.listen("atk_lpo", () => {}).then(
          () => assert.fail("pool.listen resolved"),
          (e: unknown) => e,
        );
        assert.ok(err instanceof PoolError, `rejects with a PoolError, got ${String(err)}`);
        // The caller got the error: no session is left behind, none is reopened in a loop.
        const pids = await listenPids(app, 600);
        assert.equal(pids.size, 0, `sessions on the server: ${[...pids].join(", ")}`);
      } finally {
        await proxy.close();
      }
    });

    it("the error of a listen closed by listenPingTimeoutMs names the setting and its value", async () => {
      const { pool, proxy } = await slowPool(`atk_lpo_name_${++seq}`);
      try {
        const err = await pool.listen("atk_lpo_name", () => {}).then(
          () => assert.fail("pool.listen resolved"),
          (e: unknown) => e,
        );
        assert.ok(
          err instanceof ConnectionError,
          `rejects with a ConnectionError, got ${String(err)}`,
        );
        assert.match(err.message, /listenPingTimeoutMs \(5 ms\)/);
        assert.equal(err.endpoint, `${proxy.host}:${proxy.port}`);
        assert.doesNotMatch(err.message, /has been closed/);
      } finally {
        await proxy.close();
      }
    });

    it("a LISTEN on a session the keep-alive ping closes rejects naming listenPingTimeoutMs", async () => {
      const proxy = await startProxy({ target: server });
      try {
        const { pool } = makePool({
          db: endpointOf(server, {
            host: proxy.host,
            port: proxy.port,
            application_name: `lpo_ping_${++seq}`,
          }),
          listenPingIntervalMs: 1,
          listenPingTimeoutMs: 50,
        });
        const stop = await pool.listen("atk_lpo_ping_a", () => {});
        // The next ping (within a loss check, 250 ms) goes unanswered for 50 ms and closes the
        // session while this second channel's LISTEN, held for a second, is still in flight.
        proxy.delay(1000);
        const err = await pool.listen("atk_lpo_ping_b", () => {}).then(
          () => assert.fail("pool.listen resolved"),
          (e: unknown) => e,
        );
        assert.ok(
          err instanceof ConnectionError,
          `rejects with a ConnectionError, got ${String(err)}`,
        );
        assert.match(err.message, /keep-alive ping .*listenPingTimeoutMs \(50 ms\)/);
        assert.match(err.message, /LISTEN "atk_lpo_ping_b"/);
        await stop();
      } finally {
        await proxy.close();
      }
    });

    it("a ping on every loss check (listenPingIntervalMs: 1) keeps one healthy session, delivering", async () => {
      const { pool, app } = makePool({ listenPingIntervalMs: 1, listenPingTimeoutMs: 1000 });
      const got: string[] = [];
      const stop = await pool.listen("atk_lpo_often", (p) => void got.push(p));
      const sending = (async () => {
        for (let i = 0; i < 10; i++) {
          await adminQuery(server, `SELECT pg_notify('atk_lpo_often', '${i}')`);
          await sleep(80);
        }
      })();
      // Four pings or so go by: the same session throughout.
      const pids = await listenPids(app, 900);
      await sending;
      const deadline = Date.now() + 2000;
      while (got.length < 10 && Date.now() < deadline) await sleep(20);
      assert.equal(pids.size, 1, `listen sessions seen: ${[...pids].join(", ")}`);
      assert.deepEqual(got, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
      await stop();
    });

    it("a listener on a network slower than listenPingTimeoutMs comes back once the network is fast again", async () => {
      const proxy = await startProxy({ target: server });
      try {
        const { pool } = makePool({
          db: endpointOf(server, {
            host: proxy.host,
            port: proxy.port,
            application_name: `lpo_slow_${++seq}`,
          }),
          listenPingIntervalMs: 1,
          listenPingTimeoutMs: 150,
        });
        const got: string[] = [];
        const stop = await pool.listen("atk_lpo_slow", (p) => void got.push(p));
        // Every ping and every new session's LISTEN now takes longer than the timeout.
        proxy.delay(200);
        await sleep(1200);
        proxy.pass();
        // Back to a fast network: within a few back-offs the listener is up again and delivers.
        const deadline = Date.now() + 5000;
        let n = 0;
        while (got.length === 0 && Date.now() < deadline) {
          await adminQuery(server, `SELECT pg_notify('atk_lpo_slow', '${n++}')`);
          await sleep(50);
        }
        assert.ok(got.length > 0, "no notification delivered after the network recovered");
        await stop();
      } finally {
        await proxy.close();
      }
    });
  });
}
