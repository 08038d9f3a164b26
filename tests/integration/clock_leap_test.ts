/**
 * Recovery after a freeze, through the proxy: the open connections of idle
 * sessions go silent (new ones pass) while the pool's wall clock leaps an
 * hour ahead of its monotonic clock; the next callers get fresh sessions and
 * see no error, and the pool emits `clockleap` once.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Clock, createPool, type Pool } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";

describe("a pool after its clock leaps", () => {
  let server: TestServer;
  let proxy: TestProxy;
  let pool: Pool | undefined;

  before(async () => {
    [server] = await sharedServers();
    proxy = await startProxy({ target: server });
  });

  after(async () => {
    await pool?.end();
    await proxy?.close();
  });

  it("the next callers get fresh sessions with no error", async () => {
    let wallOffset = 0;
    const clock: Clock = {
      now: () => performance.now(),
      wallNow: () => Date.now() + wallOffset,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as number),
    };
    pool = createPool({
      db: [endpointOf(server, { host: proxy.host, port: proxy.port, connect_timeout: 2 })],
      groups: { g: { connection_count: 2 } },
      driver: postgresjs(),
      // A 200 ms sweep; no ping inside a minute of idle unless the clock leaps.
      idleTimeoutMs: 2000,
      pingAfterIdleMs: 60_000,
    }, { clock });
    const leaps: number[] = [];
    pool.addEventListener("clockleap", (e) => leaps.push((e as CustomEvent).detail.leapMs));
    const p = pool;
    const both = () =>
      Promise.all([1, 2].map(() =>
        p.withHandler("g", async (db) => {
          await new Promise((r) => setTimeout(r, 20));
          return await db.query("SELECT 1 AS one");
        }, { timeoutMs: 5000 })
      ));
    await both();
    proxy.silenceOpen();
    wallOffset = 3_600_000;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(leaps.length, 1, `leaps: ${leaps}`);
    assert.ok(leaps[0] >= 3_590_000, `${leaps[0]}`);
    const t0 = Date.now();
    await both();
    assert.ok(Date.now() - t0 < 4000, `${Date.now() - t0} ms`);
  });
});
