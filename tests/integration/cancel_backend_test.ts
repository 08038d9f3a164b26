/**
 * What the server does after the pool gives up on a query of an exclusive
 * session, per driver, against real PostgreSQL: the pool sends a
 * CancelRequest, so the backend stops running the query (it leaves
 * `pg_stat_activity` or goes idle) instead of running it to its end. Three
 * ways of giving up: the caller's signal, `end()` past `endTimeoutMs`, and a
 * query still running at release. (A leaked lease is collected only once its
 * query answered, so its reclaim has nothing to cancel.) Never for a pipelined
 * session nor a query that already answered; a cancel to a silent server
 * ends by its connect timeout.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, type Pool, type PoolConfigInput } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type DriverCase, runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const drivers = await withDenoPostgres(runtimeDrivers());
let seq = 0;

/** A driver whose connections record each `cancel()` they are asked for (and its promise). */
function spied(make: () => Driver): { driver: Driver; cancels: Promise<void>[] } {
  const inner = make();
  const cancels: Promise<void>[] = [];
  const driver: Driver = {
    name: inner.name,
    notifications: inner.notifications,
    connect: async (params) => {
      const conn = await inner.connect(params);
      const own = conn.cancel?.bind(conn);
      if (own !== undefined) {
        Object.defineProperty(conn, "cancel", {
          value: () => {
            const sent = own();
            cancels.push(sent);
            return sent;
          },
        });
      }
      return conn;
    },
  };
  return { driver, cancels };
}

for (const { name, make } of drivers) {
  const supported = make().name !== "deno-postgres";
  describe(`cancelling an abandoned query over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    const proxies: TestProxy[] = [];

    function makePool(
      groups: PoolConfigInput["groups"],
      extra: Partial<PoolConfigInput> = {},
      port?: number,
    ) {
      const app = `cancel_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const { driver, cancels } = spied(make);
      const pool = createPool({
        db: endpointOf(server, {
          application_name: app,
          connect_timeout: 1,
          ...(port === undefined ? {} : { host: "127.0.0.1", port }),
        }),
        groups,
        driver,
        ...extra,
      });
      pools.push(pool);
      return { pool, app, cancels };
    }

    /** The pool's backends still running `text`. */
    async function running(app: string, text: string): Promise<number> {
      const rows = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query = $2",
        [app, text],
      );
      return rows[0].n as number;
    }

    /** Waits up to `ms` for the count of backends running `text` to become `n`. */
    async function until(app: string, text: string, n: number, ms = 4000): Promise<number> {
      const end = Date.now() + ms;
      let seen = await running(app, text);
      while (seen !== n && Date.now() < end) {
        await sleep(50);
        seen = await running(app, text);
      }
      return seen;
    }

    const one = { default: { connection_count: 1 } };
    const SLEEP = "SELECT pg_sleep(30)";

    const cases: [string, () => Promise<void>][] = [
      ["the caller's signal aborts withHandler mid-query", async () => {
        const { pool, app, cancels } = makePool(one);
        const ac = new AbortController();
        const call = pool.withHandler("default", (db) => db.query(SLEEP), { signal: ac.signal });
        call.catch(() => {});
        assert.equal(await until(app, SLEEP, 1), 1, "the query never started");
        ac.abort(new Error("caller gave up"));
        await assert.rejects(call, /caller gave up/);
        assert.equal(await until(app, SLEEP, 0), 0, "the backend still runs the aborted query");
        assert.equal(cancels.length, 1);
      }],
      ["a long UPDATE is aborted: its lock is gone", async () => {
        const table = `cancel_lock_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
        await adminQuery(server, `CREATE TABLE ${table} (id int primary key, n int)`);
        await adminQuery(server, `INSERT INTO ${table} VALUES (1, 0)`);
        const { pool, app } = makePool(one);
        const update = `UPDATE ${table} SET n = n + 1 WHERE id = 1 AND pg_sleep(30) IS NOT NULL`;
        const ac = new AbortController();
        const call = pool.withHandler("default", (db) => db.query(update), { signal: ac.signal });
        call.catch(() => {});
        assert.equal(await until(app, update, 1), 1, "the update never started");
        ac.abort(new Error("caller gave up"));
        await assert.rejects(call);
        assert.equal(await until(app, update, 0), 0, "the backend still runs the update");
        // The row lock went with it.
        const locks = await adminQuery(
          server,
          "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1 AND l.relation = $2::regclass",
          [app, table],
        );
        assert.equal(locks[0].n, 0);
        await adminQuery(server, `DROP TABLE ${table}`);
      }],
      ["end() closes a session whose handler did not come back within endTimeoutMs", async () => {
        const { pool, app, cancels } = makePool(one, { endTimeoutMs: 100 });
        const db = await pool.lease("default");
        db.query(SLEEP).catch(() => {});
        assert.equal(await until(app, SLEEP, 1), 1, "the query never started");
        await pool.end();
        assert.equal(await until(app, SLEEP, 0), 0, "the backend still runs the query");
        assert.equal(cancels.length, 1);
      }],
      ["a stray query still runs at release past strayWaitMs", async () => {
        const { pool, app, cancels } = makePool(one, { pingTimeoutMs: 100 });
        const db = await pool.lease("default");
        db.query(SLEEP).catch(() => {});
        assert.equal(await until(app, SLEEP, 1), 1, "the query never started");
        await db.release();
        assert.equal(await until(app, SLEEP, 0), 0, "the backend still runs the stray query");
        assert.equal(cancels.length, 1);
      }],
      ["an abort after the query answered sends no cancel", async () => {
        const { pool, cancels } = makePool(one);
        const ac = new AbortController();
        const call = pool.withHandler("default", async (db) => {
          await db.query("SELECT 1");
          ac.abort(new Error("late"));
          await sleep(50);
        }, { signal: ac.signal });
        await assert.rejects(call, /late/);
        await pool.end();
        assert.equal(cancels.length, 0);
      }],
      ["a pipelined group never sends a cancel", async () => {
        const shared = { shared: { connection_count: 1, pipeline: true } };
        const { pool, app, cancels } = makePool(shared, { endTimeoutMs: 100 });
        const text = "SELECT pg_sleep(1.5)";
        const ac = new AbortController();
        const call = pool.query(text, [], { group: "shared", signal: ac.signal });
        const other = pool.query(text, [], { group: "shared" });
        call.catch(() => {});
        other.catch(() => {});
        assert.equal(await until(app, text, 1), 1, "the query never started");
        ac.abort(new Error("caller gave up"));
        await assert.rejects(call);
        await pool.end();
        assert.equal(cancels.length, 0);
      }],
      ["a cancel to a stalled server ends by the connect timeout", async () => {
        const proxy = await startProxy({ target: { host: server.host, port: server.port } });
        proxies.push(proxy);
        const { pool, app, cancels } = makePool(one, {}, proxy.port);
        const text = "SELECT pg_sleep(3)";
        const ac = new AbortController();
        const call = pool.withHandler("default", (db) => db.query(text), { signal: ac.signal });
        call.catch(() => {});
        assert.equal(await until(app, text, 1), 1, "the query never started");
        proxy.stall();
        ac.abort(new Error("caller gave up"));
        await assert.rejects(call, /caller gave up/);
        await pool.end();
        assert.equal(cancels.length, 1);
        // Settles (connect_timeout is 1 s), well before the generous bound.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const bound = new Promise((r) => (timer = setTimeout(() => r("hung"), 8000)));
        const how = await Promise.race([cancels[0].then(() => "settled"), bound]);
        clearTimeout(timer);
        assert.equal(how, "settled");
        await proxy.close();
      }],
    ];

    const batch = caseBatch(cases);
    before(async () => {
      server = (await sharedServers())[0];
    });
    after(async () => {
      await batch.stop();
      await Promise.all(pools.map((p) => p.end()));
      await Promise.all(proxies.map((p) => p.close()));
    });

    for (const [title] of cases) {
      it(title, { skip: supported ? false : whySkipped(name) }, () => batch.check(title));
    }
  });
}

function whySkipped(name: DriverCase["name"]): string {
  return `${name} offers no way to cancel a query (no CancelRequest): the server runs it to its end`;
}
