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
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { endpointOf } from "../support/params.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { onBun } from "../support/drivers.ts";
import { serverScope } from "../support/server_scope.ts";
import { appName, backendPids, until } from "../support/backend_probe.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const drivers: [string, () => Driver][] = [
  ["postgres.js", () => postgresjs()],
  ["node-postgres", () => nodePostgres()],
  ...(onBun ? [["Bun.SQL", () => bunSql()] as [string, () => Driver]] : []),
];
const PID = "SELECT pg_backend_pid() AS pid, pg_is_in_recovery() AS rec";

describe("pipelined ping before use behind a proxy that stalls as the ping goes out", () => {
  const scope = serverScope();

  for (const [name, driver] of drivers) {
    describe(name, () => {
      /** A pool of one pipelined session behind a proxy, used once and then idle past pingAfterIdleMs. */
      async function setup(pingTimeoutMs: number) {
        const app = appName("atk_sping");
        const proxy = await startProxy({ target: scope.server });
        const pool = createPool({
          db: endpointOf(scope.server, {
            host: proxy.host,
            port: proxy.port,
            application_name: app,
          }),
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

      /**
       * Runs `body` on a fresh {@linkcode setup}, then `end` and the proxy's close;
       * nothing may escape meanwhile, and no backend of the pool may be left after.
       */
      async function stalledPing(
        pingTimeoutMs: number,
        body: (s: { proxy: TestProxy; pool: Pool; first: number }) => Promise<void>,
        end = (s: { proxy: TestProxy; pool: Pool }) => s.pool.end(),
      ): Promise<void> {
        let app = "";
        await withoutEscapes(async () => {
          const s = await setup(pingTimeoutMs);
          app = s.app;
          try {
            await body(s);
          } finally {
            await end(s);
            await s.proxy.close();
          }
        });
        await until(
          `no backend of ${app} left`,
          async () => (await backendPids(scope.server, app)).length === 0,
          { withinMs: 3000 },
        );
      }

      it("stalled shorter than pingTimeoutMs: one ping, every caller served on the same session", () =>
        stalledPing(2000, async ({ proxy, pool, first }) => {
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
        }));

      it("stalled past pingTimeoutMs: the session goes, callers run on a new one within their timeout", () =>
        stalledPing(200, async ({ proxy, pool, first }) => {
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
        }));

      it("stalled for good: every caller times out once with AcquireTimeoutError; end() leaves nothing", () =>
        stalledPing(
          5000,
          async ({ proxy, pool }) => {
            let settled = 0;
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
          },
          async ({ proxy, pool }) => {
            const ending = pool.end();
            proxy.drop();
            proxy.pass();
            await ending;
          },
        ));
    });
  }
});

describe("pipelined ping before use across a real promotion", () => {
  let pair: StandbyPair;
  const pools: [string, Pool, string][] = [];

  before(async () => {
    pair = await startStandbyPair();
    for (const [name, driver] of drivers) {
      const app = appName("atk_sping_promo");
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
        () =>
          withoutEscapes(async () => {
            const [, pool] = pools[at];
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
          }),
      );
    }
  }
});
