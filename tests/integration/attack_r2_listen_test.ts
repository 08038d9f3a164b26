/**
 * `listenlost` / `listenrestored` attacked against real PostgreSQL, per
 * driver with `pool.listen`: a server restart (stopped, reconnects refused
 * for a while, started again), two losses in a row, a loss found by a
 * `listen()` of a new channel, and `setEndpoints()` during the outage. Each
 * loss gives one `listenlost` and one `listenrestored`, in that order;
 * `missedMs` is never negative, covers the time the server was down and
 * never exceeds the time since listening began; no detail holds the
 * password; a NOTIFY after `listenrestored` reaches every channel. The cases
 * run at once (tests/support/case_batch.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { until } from "../support/backend_probe.ts";
import { createPool, type Pool, type PoolEventDetail } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import {
  adminQuery,
  type PrivateTestServer,
  sharedServers,
  startPrivateServer,
  type TestServer,
} from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type DriverCase, runtimeDrivers } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";

const drivers = runtimeDrivers({ bunSql: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Seen =
  | { type: "listenlost"; at: number; detail: PoolEventDetail<"listenlost"> }
  | { type: "listenrestored"; at: number; detail: PoolEventDetail<"listenrestored"> };

let shared: TestServer;
let restarting: PrivateTestServer;
const pools: Pool[] = [];
const proxies: TestProxy[] = [];
let seq = 0;

function listening(d: DriverCase, server: TestServer, via?: TestProxy) {
  const app = `atk_r2_listen_${d.name}_${++seq}`.replace(/\W/g, "_");
  const endpoint = endpointOf(server, { application_name: app });
  const pool = createPool({
    db: via ? { ...endpoint, host: via.host, port: via.port } : endpoint,
    groups: { g: { connection_count: 1 } },
    driver: d.make(),
    reconnectBaseMs: 20,
    reconnectMaxMs: 100,
  });
  pools.push(pool);
  const seen: Seen[] = [];
  pool.addEventListener("listenlost", (e) => {
    seen.push({ type: "listenlost", at: Date.now(), detail: e.detail });
  });
  pool.addEventListener("listenrestored", (e) => {
    seen.push({ type: "listenrestored", at: Date.now(), detail: e.detail });
  });
  const got = new Map<string, string[]>();
  const listen = (channel: string) =>
    pool.listen(channel, (payload) => {
      got.set(channel, [...got.get(channel) ?? [], payload]);
    });
  return { pool, app, seen, got, listen, server };
}

type Listening = ReturnType<typeof listening>;

const types = (s: Listening) => s.seen.map((x) => x.type);

async function backend(s: Listening): Promise<number> {
  const rows = await adminQuery(
    s.server,
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
    [s.app],
  );
  assert.equal(rows.length, 1, "one listen backend");
  return rows[0].pid as number;
}

/** NOTIFYs every channel until each callback got `payload` (a restored session listens at once). */
async function delivered(s: Listening, channels: string[], payload: string): Promise<void> {
  for (const c of channels) await adminQuery(s.server, "SELECT pg_notify($1, $2)", [c, payload]);
  await until(
    `${payload} on ${channels}`,
    () => channels.every((c) => s.got.get(c)?.includes(payload)),
  );
}

function checkDetails(s: Listening, password: string): void {
  for (const x of s.seen) {
    assert.ok(!JSON.stringify(x.detail).includes(password), "a password in an event detail");
    if (x.type === "listenrestored") {
      const { missedMs } = x.detail;
      assert.ok(Number.isFinite(missedMs) && missedMs >= 0, `missedMs ${missedMs}`);
    }
  }
}

function casesOf(d: DriverCase): [string, () => Promise<void>][] {
  return [
    [`${d.name}: a server restart`, async () => {
      const s = listening(d, restarting);
      const channels = [`${s.app}_a`, `${s.app}_b`];
      const began = Date.now();
      for (const c of channels) await s.listen(c);
      await restartGate.ready(); // every pool of this case listens, then the server restarts once
      const { stopAt, startAt } = await restartGate.done;
      await until("listenrestored", () => s.seen.length >= 2, { withinMs: 8000 });
      await delivered(s, channels, "after restart");
      await sleep(150);
      assert.deepEqual(types(s), ["listenlost", "listenrestored"]);
      const [lost, restored] = s.seen;
      assert.equal(lost.type === "listenlost" && lost.detail.reason, "broken");
      assert.deepEqual([...lost.detail.channels].sort(), channels);
      const missed = restored.type === "listenrestored" ? restored.detail.missedMs : NaN;
      checkDetails(s, restarting.password);
      // It covers the downtime (less a poll of start()'s), and not more than the time since listening began.
      assert.ok(missed >= startAt - stopAt - 250, `missedMs ${missed} < down ${startAt - stopAt}`);
      assert.ok(missed <= restored.at - began + 5, `missedMs ${missed} > ${restored.at - began}`);
    }],
    [`${d.name}: two losses in a row`, async () => {
      const s = listening(d, shared);
      const channel = s.app;
      const began = Date.now();
      await s.listen(channel);
      for (let n = 1; n <= 2; n++) {
        await adminQuery(shared, "SELECT pg_terminate_backend($1)", [await backend(s)]);
        await until(`restore ${n}`, () => s.seen.length >= 2 * n);
        await delivered(s, [channel], `after ${n}`);
      }
      await sleep(150);
      assert.deepEqual(types(s), ["listenlost", "listenrestored", "listenlost", "listenrestored"]);
      checkDetails(s, shared.password);
      const [, first, , second] = s.seen;
      const m2 = second.type === "listenrestored" ? second.detail.missedMs : NaN;
      // The second outage began after the first restore.
      assert.ok(m2 <= second.at - first.at + 5, `missedMs ${m2} > ${second.at - first.at}`);
      assert.ok(m2 <= second.at - began);
    }],
    [`${d.name}: a loss found by listen() of a new channel`, async () => {
      const s = listening(d, shared);
      const [old, added] = [`${s.app}_old`, `${s.app}_new`];
      await s.listen(old);
      const pid = await backend(s);
      await adminQuery(shared, "SELECT pg_terminate_backend($1)", [pid]);
      await until("the backend gone", async () => {
        const rows = await adminQuery(shared, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", [
          pid,
        ]);
        return rows.length === 0;
      });
      // At once, before the loss check (every 250 ms) looked.
      await s.listen(added);
      await delivered(s, [old, added], "after");
      await sleep(150);
      assert.deepEqual(types(s), ["listenlost", "listenrestored"]);
      checkDetails(s, shared.password);
    }],
    [`${d.name}: setEndpoints() during the outage`, async () => {
      const proxy = await startProxy({ target: shared });
      proxies.push(proxy);
      const s = listening(d, shared, proxy);
      await s.listen(s.app);
      proxy.refuse();
      proxy.drop();
      await until("listenlost", () => s.seen.length === 1);
      await sleep(100); // a few refused reconnects
      s.pool.setEndpoints(endpointOf(shared, { application_name: s.app }));
      await until("listenrestored", () => s.seen.length >= 2);
      await delivered(s, [s.app], "moved");
      await sleep(150);
      assert.deepEqual(types(s), ["listenlost", "listenrestored"]);
      const [lost, restored] = s.seen;
      assert.equal(lost.detail.endpoint, `${proxy.host}:${proxy.port}`);
      assert.equal(restored.detail.endpoint, `${shared.host}:${shared.port}`);
      checkDetails(s, shared.password);
    }],
    [`${d.name}: drain() during the outage`, async () => {
      const proxy = await startProxy({ target: shared });
      proxies.push(proxy);
      const s = listening(d, shared, proxy);
      await s.listen(s.app);
      proxy.refuse();
      proxy.drop();
      await until("listenlost", () => s.seen.length === 1);
      s.pool.drain();
      await sleep(100); // refused reconnects meanwhile
      proxy.pass();
      await until("listenrestored", () => s.seen.length >= 2);
      await delivered(s, [s.app], "after drain");
      await sleep(150);
      assert.deepEqual(types(s), ["listenlost", "listenrestored"]);
      checkDetails(s, shared.password);
    }],
  ];
}

/** The restart cases of every driver listen, then one stop / start of the private server. */
const restartGate = (() => {
  let waiting = drivers.length;
  let go!: () => void;
  const all = new Promise<void>((r) => (go = r));
  const done = all.then(async () => {
    const stopAt = Date.now();
    await restarting.stop();
    await sleep(150); // reconnects refused meanwhile
    await restarting.start();
    return { stopAt, startAt: Date.now() };
  });
  done.catch(() => {});
  return {
    ready: () => {
      if (--waiting === 0) go();
      return all;
    },
    done,
  };
})();

const batch = caseBatch(drivers.flatMap(casesOf));

describe("listenlost / listenrestored attacked", () => {
  before(async () => {
    [[shared], restarting] = await Promise.all([sharedServers(), startPrivateServer()]);
  });

  after(async () => {
    await batch.stop();
    for (const p of pools) await p.end();
    for (const p of proxies) await p.close();
    await restarting?.dispose();
  });

  for (const [key] of drivers.flatMap(casesOf)) it(key, () => batch.check(key));
});
