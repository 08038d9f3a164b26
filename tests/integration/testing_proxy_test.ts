/**
 * `startProxy()` of `@x/pgdbpool/testing`, every mode, against a real server
 * through a real PostgreSQL client (postgres.js).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import postgres from "postgres";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";

type Outcome<T> = { ok: T } | { err: unknown } | "pending";

/** What `p` did within `ms`: its value, its error, or still pending. Never leaves `p` unhandled. */
function settle<T>(p: Promise<T>, ms: number): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("pending"), ms);
    p.then(
      (ok) => (clearTimeout(timer), resolve({ ok })),
      (err) => (clearTimeout(timer), resolve({ err })),
    );
  });
}

const appName = `proxytest-${Math.random().toString(36).slice(2, 8)}`;
let server: TestServer;
const clients: postgres.Sql[] = [];
const proxies: TestProxy[] = [];

function client(proxy: TestProxy, name = appName): postgres.Sql {
  const sql = postgres({
    host: proxy.host,
    port: proxy.port,
    user: server.user,
    password: server.password,
    database: server.database,
    max: 1,
    connect_timeout: 10,
    idle_timeout: 0,
    max_lifetime: 0,
    fetch_types: false,
    connection: { application_name: name },
    onnotice: () => {},
  });
  clients.push(sql);
  return sql;
}

async function proxy(): Promise<TestProxy> {
  const p = await startProxy({ target: { host: server.host, port: server.port } });
  proxies.push(p);
  return p;
}

async function one(sql: postgres.Sql): Promise<number> {
  const rows = await sql.unsafe("select 1 as n");
  return Number(rows[0].n);
}

describe("startProxy()", () => {
  before(async () => {
    [server] = await sharedServers();
  });

  after(async () => {
    await Promise.allSettled(clients.map((c) => c.end({ timeout: 0 })));
    await Promise.allSettled(proxies.map((p) => p.close()));
  });

  it("startProxy() passes queries to the target in mode pass", async () => {
    const p = await proxy();
    assert.equal(p.mode, "pass");
    assert.equal(p.host, "127.0.0.1");
    assert.ok(p.port > 0);
    assert.equal(await one(client(p)), 1);
    assert.equal(p.connectionCount, 1);
  });

  it("stall() holds open and new connections alike; pass() delivers what was held", async () => {
    const p = await proxy();
    const open = client(p);
    assert.equal(await one(open), 1);
    p.stall();
    const onOpen = one(open);
    const onNew = one(client(p));
    assert.equal(await settle(onOpen, 400), "pending");
    assert.equal(await settle(onNew, 100), "pending");
    assert.equal(p.connectionCount, 2, "the new connection is accepted, not refused");
    p.pass();
    assert.deepEqual(await settle(onOpen, 5000), { ok: 1 });
    assert.deepEqual(await settle(onNew, 5000), { ok: 1 });
  });

  it("refuse() resets new connections at once and keeps open ones serving", async () => {
    const p = await proxy();
    const open = client(p);
    assert.equal(await one(open), 1);
    p.refuse();
    const outcome = await settle(one(client(p)), 5000);
    assert.ok(outcome !== "pending" && "err" in outcome, "a new connection fails, fast");
    assert.equal(await one(open), 1);
    p.pass();
    assert.equal(await one(client(p)), 1);
  });

  it("delay(ms) makes every round trip at least twice ms late, results intact", async () => {
    const p = await proxy();
    const sql = client(p);
    assert.equal(await one(sql), 1);
    p.delay(150);
    assert.equal(p.mode, "delay");
    const started = Date.now();
    const rows = await sql.unsafe("select generate_series(1, 2000) as n");
    const elapsed = Date.now() - started;
    assert.equal(rows.length, 2000);
    assert.equal(Number(rows[1999].n), 2000);
    assert.ok(elapsed >= 280, `one round trip took ${elapsed} ms, expected >= 300`);
    assert.throws(() => p.delay(-1), RangeError);
  });

  it("drop() resets the connections open now; new ones pass", async () => {
    const p = await proxy();
    const sql = client(p);
    assert.equal(await one(sql), 1);
    const inFlight = sql.unsafe("select pg_sleep(2)");
    await new Promise((r) => setTimeout(r, 100));
    p.drop();
    const outcome = await settle(inFlight, 1500);
    assert.ok(outcome !== "pending" && "err" in outcome, "the query in flight fails at once");
    assert.equal(p.connectionCount, 0);
    assert.equal(await one(client(p)), 1);
  });

  it("silenceOpen() stalls the connections open now and passes new ones", async () => {
    const p = await proxy();
    const open = client(p);
    assert.equal(await one(open), 1);
    p.silenceOpen();
    const onOpen = one(open);
    assert.equal(await one(client(p)), 1, "a new connection serves");
    assert.equal(await settle(onOpen, 300), "pending");
    p.pass();
    assert.deepEqual(await settle(onOpen, 5000), { ok: 1 });
  });

  it("close() stops listening and leaves no connection open, on either side", async () => {
    const p = await startProxy({ target: { host: server.host, port: server.port } });
    const sql = client(p, appName + "-close");
    assert.equal(await one(sql), 1);
    p.stall();
    const stalled = settle(one(sql), 5000);
    await p.close();
    assert.equal(p.connectionCount, 0);
    assert.notEqual(await stalled, "pending");
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: p.host, port: p.port });
      s.once("connect", () => (s.destroy(), resolve(false)));
      s.once("error", () => resolve(true));
    });
    assert.ok(refused, "the port no longer accepts");
    // The server may list a closed backend for a moment: poll.
    let left = -1;
    for (let i = 0; i < 50 && left !== 0; i++) {
      const rows = await adminQuery(
        server,
        "select count(*)::int as n from pg_stat_activity where application_name = $1",
        [appName + "-close"],
      );
      left = Number(rows[0].n);
      if (left !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(left, 0);
  });

  it("startProxy() rejects a target without host or with a bad port", async () => {
    await assert.rejects(startProxy({ target: { host: "", port: 5432 } }), TypeError);
    await assert.rejects(startProxy({ target: { host: "127.0.0.1", port: 0 } }), TypeError);
  });
});
