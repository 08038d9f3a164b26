/**
 * `listenlost` and `listenrestored` against real PostgreSQL, per driver that
 * supports `pool.listen`: the listen backend killed with pg_terminate_backend,
 * its connection reset by a proxy, or gone silent behind one. Each loss
 * gives one `listenlost` (the endpoint, the channels, why) and, once every
 * channel is listened to again, one `listenrestored`, after which a NOTIFY is
 * delivered; an unlisten or `end()` during the outage gives no restored event
 * and leaves no connection behind. A listener that throws does not stop the
 * listen session from coming back. The cases run at once (tests/support/case_batch.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { until } from "../support/backend_probe.ts";
import { createPool, type Pool, type PoolConfigInput, type PoolEventDetail } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type DriverCase, onBun, runtimeDrivers } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";
import { watchEscapes } from "../support/escapes.ts";

// Bun.SQL and deno-postgres refuse pool.listen (docs/listen.md).
const drivers = runtimeDrivers({ bunSql: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// bun test fails the running test on any EventTarget listener's error, whatever handles it.
const bunFails = onBun ? "bun test fails the running test on an event listener's error" : false;

type Lost = PoolEventDetail<"listenlost">;
type Restored = PoolEventDetail<"listenrestored">;
type Seen = { type: "listenlost"; detail: Lost } | { type: "listenrestored"; detail: Restored };

let server: TestServer;
const pools: Pool[] = [];
const proxies: TestProxy[] = [];
let seq = 0;

/** A pool whose listen events are recorded, in order; through `proxy` when given. */
function listening(d: DriverCase, proxy?: TestProxy, extra: Partial<PoolConfigInput> = {}) {
  const app = `lev_${d.name}_${++seq}`.replace(/\W/g, "_");
  const endpoint = endpointOf(server, { application_name: app });
  const pool = createPool({
    db: proxy ? { ...endpoint, host: proxy.host, port: proxy.port } : endpoint,
    groups: { g: { connection_count: 1 } },
    driver: d.make(),
    reconnectBaseMs: 50,
    reconnectMaxMs: 200,
    ...extra,
  });
  pools.push(pool);
  const seen: Seen[] = [];
  pool.addEventListener(
    "listenlost",
    (e) => void seen.push({ type: "listenlost", detail: e.detail }),
  );
  pool.addEventListener("listenrestored", (e) => {
    seen.push({ type: "listenrestored", detail: e.detail });
  });
  const id = proxy ? `${proxy.host}:${proxy.port}` : `${server.host}:${server.port}`;
  return { pool, app, seen, id };
}

async function proxied(): Promise<TestProxy> {
  const proxy = await startProxy({ target: server });
  proxies.push(proxy);
  return proxy;
}

/** Payloads received, per channel. */
function inbox() {
  const got: string[] = [];
  return { got, onNotify: (payload: string) => void got.push(payload) };
}

async function backends(app: string): Promise<number[]> {
  const rows = await adminQuery(
    server,
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
    [app],
  );
  return rows.map((r) => r.pid as number);
}

const notify = (channel: string, payload: string) =>
  adminQuery(server, "SELECT pg_notify($1, $2)", [channel, payload]);

/** The events as `type:channels`, channels sorted. */
const summary = (seen: Seen[]) =>
  seen.map((s) => `${s.type}:${[...s.detail.channels].sort().join(",")}`);

/** Asserts one loss and its restore, then that a NOTIFY after it reaches every channel. */
async function lostThenRestored(
  s: ReturnType<typeof listening>,
  channels: string[],
  reason: Lost["reason"],
  boxes: ReturnType<typeof inbox>[],
): Promise<void> {
  await until("listenrestored", () => s.seen.length >= 2);
  assert.deepEqual(summary(s.seen), [
    `listenlost:${channels.join(",")}`,
    `listenrestored:${channels.join(",")}`,
  ]);
  const [lost, restored] = s.seen.map((x) => x.detail) as [Lost, Restored];
  assert.equal(lost.endpoint, s.id);
  assert.equal(lost.reason, reason);
  assert.equal(restored.endpoint, s.id);
  assert.ok(
    Number.isFinite(restored.missedMs) && restored.missedMs >= 0,
    `missedMs ${restored.missedMs}`,
  );
  for (const x of s.seen) assert.ok(!JSON.stringify(x.detail).includes(server.password!));
  for (const c of channels) await notify(c, "after");
  await until("the NOTIFY after listenrestored", () => boxes.every((b) => b.got.includes("after")));
  // Once per loss: nothing more comes.
  await sleep(300);
  assert.equal(s.seen.length, 2, summary(s.seen).join(" | "));
}

/** Asserts no restored event and no connection left, once the network is back. */
async function nothingLeft(s: ReturnType<typeof listening>, proxy: TestProxy): Promise<void> {
  proxy.pass();
  await until("no connection through the proxy", () => proxy.connectionCount === 0);
  await until("no backend of the pool", async () => (await backends(s.app)).length === 0);
  await sleep(300);
  assert.deepEqual(summary(s.seen), [`listenlost:${s.app}`]);
  assert.equal(proxy.connectionCount, 0);
}

function casesOf(d: DriverCase): [string, () => Promise<void>][] {
  const key = (what: string) => `${d.name}:${what}`;
  return [
    [key("terminate"), async () => {
      const s = listening(d);
      const [a, b] = [`${s.app}_a`, `${s.app}_b`];
      const a1 = inbox(), a2 = inbox(), b1 = inbox();
      await s.pool.listen(a, a1.onNotify);
      await s.pool.listen(a, a2.onNotify);
      await s.pool.listen(b, b1.onNotify);
      const [pid] = await backends(s.app);
      await adminQuery(server, "SELECT pg_terminate_backend($1)", [pid]);
      await lostThenRestored(s, [a, b], "broken", [a1, a2, b1]);
      assert.notDeepEqual(await backends(s.app), [pid]);
    }],
    [key("drop"), async () => {
      const proxy = await proxied();
      const s = listening(d, proxy);
      const box = inbox();
      await s.pool.listen(s.app, box.onNotify);
      proxy.drop();
      await lostThenRestored(s, [s.app], "broken", [box]);
    }],
    [key("silence"), async () => {
      const proxy = await proxied();
      const s = listening(d, proxy, { listenPingIntervalMs: 100, listenPingTimeoutMs: 300 });
      const box = inbox();
      await s.pool.listen(s.app, box.onNotify);
      proxy.silenceOpen(); // the open session goes quiet; a new one passes
      await lostThenRestored(s, [s.app], "ping-failed", [box]);
      assert.match(
        String(s.seen[0].type === "listenlost" && s.seen[0].detail.error),
        /listenPingTimeoutMs \(300 ms\)/,
      );
    }],
    [key("unlisten in the outage"), async () => {
      const proxy = await proxied();
      const s = listening(d, proxy);
      const unlisten = await s.pool.listen(s.app, () => {});
      proxy.stall(); // the reconnect's connect hangs
      proxy.drop();
      await until("listenlost", () => s.seen.length === 1);
      await unlisten();
      await nothingLeft(s, proxy);
    }],
    [key("end() from the listenlost listener"), async () => {
      const proxy = await proxied();
      const s = listening(d, proxy);
      await s.pool.listen(s.app, () => {});
      let ended: Promise<void> | undefined;
      s.pool.addEventListener("listenlost", () => void (ended = s.pool.end()));
      proxy.refuse(); // reconnects are refused
      proxy.drop();
      await until("listenlost", () => ended !== undefined);
      await ended;
      await nothingLeft(s, proxy);
    }],
  ];
}

const batch = caseBatch(drivers.flatMap(casesOf));

describe("listenlost / listenrestored against real PostgreSQL", () => {
  before(async () => {
    server = (await sharedServers())[0];
  });

  after(async () => {
    await batch.stop();
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(proxies.map((p) => p.close()));
  });

  for (const d of drivers) {
    for (const [key] of casesOf(d)) {
      it(`${key}: the events of a loss and its end`, () => batch.check(key));
    }
  }

  it(
    "listeners that throw are reported as any listener's error; the session comes back",
    { skip: bunFails },
    async () => {
      const watch = watchEscapes();
      try {
        await Promise.all(drivers.map(async (d) => {
          const s = listening(d);
          for (const type of ["listenlost", "listenrestored"] as const) {
            s.pool.addEventListener(type, () => {
              throw new Error(`${type} listener of ${d.name} failed`);
            });
          }
          const box = inbox();
          await s.pool.listen(s.app, box.onNotify);
          const [pid] = await backends(s.app);
          await adminQuery(server, "SELECT pg_terminate_backend($1)", [pid]);
          await lostThenRestored(s, [s.app], "broken", [box]);
        }));
        assert.deepEqual(
          watch.escaped.map((e) => (e as Error).message).sort(),
          drivers.flatMap((d) => [
            `listenlost listener of ${d.name} failed`,
            `listenrestored listener of ${d.name} failed`,
          ]).sort(),
        );
      } finally {
        watch.stop();
      }
    },
  );
});
