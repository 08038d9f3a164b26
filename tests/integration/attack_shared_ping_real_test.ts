/**
 * The ping before use of a pipelined group on real servers and drivers
 * (postgres.js, node-postgres, and Bun.SQL under Bun): a proxy that stalls as
 * the ping goes out (answered in time, late, never), and a real promotion of a
 * hot standby. No caller runs on a session whose ping failed or on the
 * promoted server, every caller settles typed, and no backend is left behind.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AcquireTimeoutError, createPool, type Driver, type Pool, PoolError } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { startProxy } from "../../src/testing/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { watchEscapes } from "../support/escapes.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const drivers: [string, () => Driver][] = [
  ["postgres.js", () => postgresjs()],
  ["node-postgres", () => nodePostgres()],
  ...(isBun ? [["Bun.SQL", () => bunSql()] as [string, () => Driver]] : []),
];
const PID = "SELECT pg_backend_pid() AS pid, pg_is_in_recovery() AS rec";
let seq = 0;

async function backends(server: TestServer | { host: string; port: number }, app: string) {
  return (await adminQuery(
    server as TestServer,
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
    [app],
  )).map((r) => Number(r.pid));
}

async function noBackendsLeft(server: TestServer, app: string) {
  const deadline = Date.now() + 3000;
  while ((await backends(server, app)).length > 0 && Date.now() < deadline) await sleep(20);
  assert.deepEqual(await backends(server, app), [], `backends of ${app} left`);
}

describe("pipelined ping before use behind a proxy that stalls as the ping goes out", () => {
  let server: TestServer;
  before(async () => {
    server = (await sharedServers())[0];
  });

  for (const [name, driver] of drivers) {
    describe(name, () => {
      async function setup(pingTimeoutMs: number) {
        const app = `atk_sping_${++seq}_${Date.now() % 100000}`;
        const proxy = await startProxy({ target: server });
        const pool = createPool({
          db: endpointOf(server, { host: proxy.host, port: proxy.port, application_name: app }),
          groups: { g: { connection_count: 1, pipeline: true } },
          driver: driver(),
          pingAfterIdleMs: 50,
          pingTimeoutMs,
          acquireTimeoutMs: 3000,
        });
        const first = (await pool.query<{ pid: number }>(PID, [], { group: "g" })).rows[0].pid;
        await sleep(120);
        return { app, proxy, pool, first };
      }

      it("stalled shorter than pingTimeoutMs: one ping, every caller served on the same session", async () => {
        const escapes = watchEscapes();
        const { app, proxy, pool, first } = await setup(2000);
        try {
          proxy.stall();
          const calls = Array.from(
            { length: 30 },
            () =>
              pool.query<{ pid: number }>(PID, [], { group: "g" }).then(
                (r) => r.rows[0].pid,
                (e) => e,
              ),
          );
          await sleep(150);
          proxy.pass();
          const outs = await Promise.all(calls);
          assert.deepEqual(outs.filter((o) => o !== first).map((o) => inspect(o)), []);
          assert.equal(pool.stats().groups.g.leased, 0);
        } finally {
          await pool.end();
          await proxy.close();
          escapes.stop();
        }
        assert.deepEqual(escapes.escaped, []);
        await noBackendsLeft(server, app);
      });

      it("stalled past pingTimeoutMs: the session goes, callers run on a new one within their timeout", async () => {
        const escapes = watchEscapes();
        const { app, proxy, pool, first } = await setup(200);
        try {
          proxy.stall();
          const calls = Array.from(
            { length: 30 },
            () =>
              pool.query<{ pid: number }>(PID, [], { group: "g", timeoutMs: 3000 }).then(
                (r) => r.rows[0].pid,
                (e) => e,
              ),
          );
          await sleep(350);
          proxy.pass();
          const outs = await Promise.all(calls);
          const bad = outs.filter((o) => typeof o !== "number" || o === first);
          assert.deepEqual(bad.map((o) => inspect(o).split("\n")[0]), [], `first pid ${first}`);
          assert.equal(pool.stats().groups.g.leased, 0);
        } finally {
          await pool.end();
          await proxy.close();
          escapes.stop();
        }
        assert.deepEqual(escapes.escaped, []);
        await noBackendsLeft(server, app);
      });

      it("stalled for good: every caller times out once with AcquireTimeoutError; end() leaves nothing", async () => {
        const escapes = watchEscapes();
        const { app, proxy, pool } = await setup(5000);
        let settled = 0;
        try {
          proxy.stall();
          const calls = Array.from(
            { length: 20 },
            () =>
              pool.query(PID, [], { group: "g", timeoutMs: 300 }).then(
                (r) => (settled++, r),
                (e) => (settled++, e),
              ),
          );
          const outs = await Promise.all(calls);
          assert.equal(settled, 20);
          for (const o of outs) assert.ok(o instanceof AcquireTimeoutError, inspect(o));
          assert.equal(pool.stats().groups.g.leased, 0);
        } finally {
          const ending = pool.end();
          proxy.drop();
          proxy.pass();
          await ending;
          await proxy.close();
          escapes.stop();
        }
        assert.deepEqual(escapes.escaped, []);
        await noBackendsLeft(server, app);
      });
    });
  }
});

describe("pipelined ping before use across a real promotion", () => {
  let pair: StandbyPair;
  const pools: [string, Pool, string][] = [];

  before(async () => {
    pair = await startStandbyPair();
    for (const [name, driver] of drivers) {
      const app = `atk_sping_promo_${++seq}_${Date.now() % 100000}`;
      const pool = createPool({
        db: pair.endpoints({
          primary: { application_name: app },
          standby: { application_name: app },
        }),
        groups: {
          r: { connection_count: 2, pipeline: true, target_session_attrs: "standby" },
          x: { connection_count: 2, target_session_attrs: "standby" },
        },
        driver: driver(),
        pingAfterIdleMs: 50,
        reconnectBaseMs: 20,
        reconnectMaxMs: 100,
        acquireTimeoutMs: 2000,
      });
      pools.push([name, pool, app]);
    }
  });

  after(async () => {
    await Promise.all(pools.map(([, p]) => p.end()));
    await pair?.dispose();
  });

  it("warm sessions on the standby, then the standby is promoted and the pools sit idle past pingAfterIdleMs", async () => {
    for (const [, pool] of pools) {
      await Promise.all(Array.from({ length: 10 }, () => pool.query(PID, [], { group: "r" })));
      await Promise.all(Array.from({ length: 4 }, () => pool.query(PID, [], { group: "x" })));
      assert.ok(pool.stats().groups.r.total > 0);
    }
    await pair.primary.stop();
    await pair.standby.promote();
    await sleep(150);
  });

  // Bun.SQL exposes no ParameterStatus: its ping asks the role query instead of `SELECT 1`.
  for (const [group, kind] of [["r", "pipelined"], ["x", "exclusive"]]) {
    for (const [at, [name]] of drivers.entries()) {
      it(
        `${name}, ${kind} group: no standby-group caller runs on the promoted server`,
        async () => {
          const escapes = watchEscapes();
          const [, pool] = pools[at];
          try {
            const wrong: number[] = [];
            const errors: string[] = [];
            for (let i = 0; i < 3; i++) {
              const outs = await Promise.all(
                Array.from(
                  { length: 20 },
                  () =>
                    pool.query<{ pid: number; rec: boolean }>(PID, [], { group, timeoutMs: 500 })
                      .then((r) => r.rows[0], (e) => e),
                ),
              );
              for (const o of outs) {
                if (o instanceof Error) {
                  if (!(o instanceof PoolError)) errors.push(inspect(o));
                } else if (o.rec === false) wrong.push(o.pid);
              }
            }
            assert.equal(pool.stats().groups[group].leased, 0);
            assert.deepEqual(errors, []);
            assert.deepEqual([...new Set(wrong)], [], "callers ran on the promoted server");
            assert.deepEqual(escapes.escaped, []);
          } finally {
            escapes.stop();
          }
        },
      );
    }
  }
});
