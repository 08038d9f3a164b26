/**
 * A cancel storm: 100 sessions of one pool, each running a long query, all
 * given up on at once (the callers' signals fire together), on a private
 * server. Every backend stops, the server still takes new connections (the
 * CancelRequests neither used up `max_connections` nor anything else),
 * and nothing escapes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { adminQuery, type PrivateTestServer, startPrivateServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { onBun, runtimeDrivers } from "../support/drivers.ts";
import { watchEscapes } from "../support/escapes.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// 200 measured once (PGDBPOOL_STORM=200): the same; 100 keeps the file fast.
const N = Number(process.env.PGDBPOOL_STORM ?? 100);
// One driver per runtime: the storm is the pool's, the same whatever sends each request.
const driver = runtimeDrivers().find((d) => d.name === (onBun ? "bun-sql" : "postgresjs"))!;

describe(`${N} queries given up on at once over ${driver.name}`, () => {
  let server: PrivateTestServer;
  let pool: Pool | undefined;
  before(async () => {
    server = await startPrivateServer();
  });
  after(async () => {
    await pool?.end();
    await server?.dispose();
  });

  it("every backend stops and the server still takes connections", async () => {
    const watch = watchEscapes();
    const app = `storm_${Date.now() % 1e6}`;
    const text = "SELECT pg_sleep(30)";
    pool = createPool({
      db: endpointOf(server, { application_name: app, connect_timeout: 5 }),
      groups: { g: { connection_count: N } },
      driver: driver.make(),
    });
    const active = async () =>
      (await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query = $2",
        [app, text],
      ))[0].n as number;
    // The sessions first: opening 200 takes a while on a small machine.
    await Promise.all(
      Array.from(
        { length: N },
        () => pool!.withHandler("g", (db) => db.query("SELECT pg_sleep(0.3)")),
      ),
    );
    const controllers = Array.from({ length: N }, () => new AbortController());
    const calls = controllers.map((ac) =>
      pool!.withHandler("g", (db) => db.query(text), { signal: ac.signal })
    );
    for (const c of calls) c.catch(() => {});
    let running = 0;
    for (let i = 0; i < 400 && (running = await active()) < N; i++) await sleep(25);
    assert.equal(running, N, `not every query started (${running})`);
    for (const ac of controllers) ac.abort(new Error("gave up"));
    const outcomes = await Promise.allSettled(calls);
    assert.ok(outcomes.every((o) => o.status === "rejected" && /gave up/.test(String(o.reason))));
    let left = N;
    for (let i = 0; i < 100 && (left = await active()) > 0; i++) await sleep(30);
    assert.equal(left, 0, "backends still run the queries given up on");
    // The server still takes a new session (and the pool opens fresh ones).
    assert.equal((await adminQuery(server, "SELECT 1 AS one"))[0].one, 1);
    const again = await pool.withHandler("g", (db) => db.query<{ n: number }>("SELECT 2 AS n"));
    assert.equal(again.rows[0].n, 2);
    await sleep(50);
    assert.deepEqual(watch.escaped, []);
    watch.stop();
  });

  it("end() with 50 sessions busy: every backend stops, end() is bounded", async () => {
    const app = `storm_end_${Date.now() % 1e6}`;
    const text = "SELECT pg_sleep(30)";
    const ending = createPool({
      db: endpointOf(server, { application_name: app, connect_timeout: 5 }),
      groups: { g: { connection_count: 50 } },
      driver: driver.make(),
      endTimeoutMs: 100,
    });
    const active = async () =>
      (await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query = $2",
        [app, text],
      ))[0].n as number;
    const calls = Array.from({ length: 50 }, () => ending.withHandler("g", (db) => db.query(text)));
    for (const c of calls) c.catch(() => {});
    let running = 0;
    for (let i = 0; i < 400 && (running = await active()) < 50; i++) await sleep(25);
    assert.equal(running, 50, `not every query started (${running})`);
    const start = Date.now();
    await ending.end();
    const took = Date.now() - start;
    // endTimeoutMs, the cancels (at most CANCEL_GRACE_MS), the closes: far below the 30 s queries.
    assert.ok(took < 5000, `end() took ${took} ms`);
    const outcomes = await Promise.allSettled(calls);
    assert.ok(outcomes.every((o) => o.status === "rejected"));
    let left = 50;
    for (let i = 0; i < 100 && (left = await active()) > 0; i++) await sleep(30);
    assert.equal(left, 0, "backends still run the queries end() gave up on");
  });
});
