/**
 * `pool.end()` landing at the steps of a connect after the TCP connect, over
 * every driver against a real server: the startup and login held back (a
 * proxy that delays every chunk), the group's `on_connect` still running,
 * and a `pool.listen()` whose session is logging in. `end()` settles well
 * before `connect_timeout`, the caller gets a typed error (`PoolClosedError`),
 * no connection is left through the proxy or on the server, nothing escapes,
 * and the endpoint is not marked down (its health is shared in a threaded
 * pool). The cases run at once (tests/support/case_batch.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { until } from "../support/backend_probe.ts";
import { createPool, type Pool, PoolClosedError, type PoolConfigInput } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type DriverCase, runtimeDrivers } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";

const drivers = runtimeDrivers();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Far from either: a hang check, not a timing. connect_timeout is a minute.
const END_WITHIN_MS = 10_000;

let server: TestServer;
const proxies: TestProxy[] = [];
const pools: Pool[] = [];
let seq = 0;
// Per driver: whether the backend of the on_connect cut by end() went away.
const cancelled = new Map<string, Promise<void>>();

async function ended(pool: Pool): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("end() still running")), END_WITHIN_MS);
  });
  await Promise.race([pool.end(), late]).finally(() => clearTimeout(timer));
}

const backends = async (app: string) =>
  (await adminQuery(server, "SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [app]))
    .length;

function casesOf(d: DriverCase): [string, () => Promise<void>][] {
  const make = async (
    extra: Partial<PoolConfigInput> = {},
    delayMs = 0,
    endpoint: Record<string, unknown> = {},
  ) => {
    const app = `atk_r2_end_${d.name}_${++seq}`.replace(/\W/g, "_");
    const proxy = await startProxy({ target: server });
    proxies.push(proxy);
    if (delayMs > 0) proxy.delay(delayMs);
    const pool = createPool({
      db: {
        ...endpointOf(server, { application_name: app, connect_timeout: 60, ...endpoint }),
        host: proxy.host,
        port: proxy.port,
      },
      groups: { g: { connection_count: 1 }, p: { connection_count: 1, pipeline: true } },
      driver: d.make(),
      endTimeoutMs: 60_000,
      ...extra,
    } as PoolConfigInput);
    pools.push(pool);
    return { pool, proxy, app };
  };
  const settledTyped = async (calls: Promise<unknown>[]) => {
    for (const c of calls) await assert.rejects(c, PoolClosedError);
  };
  const healthy = (pool: Pool) => {
    for (const e of pool.stats().endpoints) {
      assert.equal(e.up, true, `${e.id} marked down`);
      assert.equal(e.failures, 0);
    }
  };
  return [
    [`${d.name}: end() while the startup and login are held back`, async () => {
      const { pool, proxy, app } = await make({}, 60_000);
      const calls = [
        pool.query("SELECT 1", [], { group: "g" }),
        pool.query("SELECT 1", [], { group: "p" }),
      ];
      calls.forEach((c) => c.catch(() => {}));
      await until("connects through the proxy", () => proxy.connectionCount >= 2);
      await sleep(100);
      await ended(pool);
      await settledTyped(calls);
      await until("no connection through the proxy", () => proxy.connectionCount === 0);
      healthy(pool);
      assert.equal(await backends(app), 0);
    }],
    [`${d.name}: end() while the TLS request is held back (ssl require)`, async () => {
      const { pool, proxy, app } = await make({}, 60_000, { ssl: "require" });
      const call = pool.query("SELECT 1", [], { group: "g" });
      call.catch(() => {});
      await until("a connect through the proxy", () => proxy.connectionCount >= 1);
      await sleep(100);
      await ended(pool);
      await settledTyped([call]);
      await until("no connection through the proxy", () => proxy.connectionCount === 0);
      healthy(pool);
      assert.equal(await backends(app), 0);
    }],
    [`${d.name}: end() while on_connect runs`, async () => {
      // No statement_timeout (query_timeout 0): only end() can cut it short.
      const { pool, proxy, app } = await make(
        {
          groups: { g: { connection_count: 1, on_connect: "SELECT pg_sleep(60)" } },
        },
        0,
        { query_timeout: 0 },
      );
      const call = pool.query("SELECT 1", [], { group: "g" });
      call.catch(() => {});
      await until("on_connect runs", async () =>
        (await adminQuery(
          server,
          "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_sleep%'",
          [app],
        )).length === 1);
      await ended(pool);
      await settledTyped([call]);
      await until("no connection through the proxy", () => proxy.connectionCount === 0);
      healthy(pool);
      // Closing the socket alone leaves the backend sleeping: the statement must be cancelled.
      const gone = until("no backend left", async () => (await backends(app)) === 0, {
        withinMs: 2000,
      });
      cancelled.set(d.name, gone);
      await gone.catch(() => {});
    }],
    [`${d.name}: on_connect cut by end(): its statement is cancelled on the server`, async () => {
      await until("the on_connect case ran", () => cancelled.has(d.name), { withinMs: 8000 });
      await cancelled.get(d.name);
    }],
    ...(d.name === "bun-sql" ? [] : [[
      `${d.name}: end() while pool.listen()'s session logs in`,
      async () => {
        const { pool, proxy, app } = await make({}, 60_000);
        const listening = pool.listen(app, () => {});
        listening.catch(() => {});
        await until("a connect through the proxy", () => proxy.connectionCount >= 1);
        await sleep(100);
        await ended(pool);
        await assert.rejects(listening, PoolClosedError);
        await until("no connection through the proxy", () => proxy.connectionCount === 0);
        healthy(pool);
      },
    ] as [string, () => Promise<void>]]),
  ];
}

const batch = caseBatch(drivers.flatMap(casesOf));

describe("pool.end() during a connect past TCP", () => {
  before(async () => {
    [server] = await sharedServers();
  });

  after(async () => {
    await batch.stop();
    for (const p of pools) await p.end();
    for (const p of proxies) await p.close();
  });

  for (const [key] of drivers.flatMap(casesOf)) {
    it(key, () => batch.check(key));
  }
});
