/**
 * What `pool.end()` leaves on the server, per driver, against real
 * PostgreSQL: once it resolved, no backend of the pool is left in
 * `pg_stat_activity` when the work in flight finished within `endTimeoutMs`;
 * a call still in flight past it gets a typed error, and end() does not wait
 * for the server to finish that call's query. The cases of a driver run at
 * once, each on its own pool (tests/support/case_batch.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, type PoolConfigInput, PoolError } from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";

const drivers = await withDenoPostgres(runtimeDrivers());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const kept: unknown[] = [];

/** How a call settled: "ok", or the error's class name ("untyped …" when not a PoolError). */
function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "ok",
    (err) => err instanceof PoolError ? (err as Error).name : `untyped ${String(err)}`,
  );
}

for (const { name, make } of drivers) {
  describe(`pool.end() over ${name}: what it leaves on the server`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    function makePool(
      groups: PoolConfigInput["groups"],
      endTimeoutMs: number,
    ): { pool: Pool; app: string } {
      const app = `end_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const pool = createPool({
        db: endpointOf(server, { application_name: app }),
        groups,
        driver: make(),
        endTimeoutMs,
      });
      pools.push(pool);
      return { pool, app };
    }

    async function backends(app: string): Promise<Record<string, unknown>[]> {
      return await adminQuery(
        server,
        "SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
    }

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    const one = { default: { connection_count: 2 } };
    const situations: [string, (pool: Pool) => Promise<Promise<string>[]>, string[]][] = [
      ["an idle pool", async (pool) => {
        await Promise.all([pool.query("SELECT 1"), pool.query("SELECT 1")]);
        return [];
      }, []],
      ["a handler leased and never released", async (pool) => {
        await pool.query("SELECT 1");
        // Kept: a handler dropped unreleased is reclaimed once collected.
        kept.push(await pool.lease("default"));
        return [];
      }, []],
      ["a short query in flight", async (pool) => {
        await pool.query("SELECT 1");
        return [outcome(pool.query("SELECT 1"))];
      }, ["ok"]],
      ["a pg_sleep(0.3) in flight", async (pool) => {
        await pool.query("SELECT 1");
        const call = outcome(pool.query("SELECT pg_sleep(0.3)"));
        await sleep(50);
        return [call];
      }, ["ok"]],
    ];

    const cases: [string, () => Promise<void>][] = situations.map(([title, setUp, expected]) => [
      `with ${title}: no backend of the pool is left once end() resolved`,
      async () => {
        const { pool, app } = makePool(one, 3000);
        const calls = await setUp(pool);
        await pool.end();
        assert.deepEqual(await backends(app), []);
        assert.deepEqual(await Promise.all(calls), expected);
      },
    ]);

    cases.push([
      "with queries in flight on a pipelined group: no backend is left, every call answered",
      async () => {
        const { pool, app } = makePool({ shared: { connection_count: 2, pipeline: true } }, 3000);
        await pool.query("SELECT 1", [], { group: "shared" });
        const calls = Array.from(
          { length: 10 },
          () => outcome(pool.query("SELECT pg_sleep(0.02)", [], { group: "shared" })),
        );
        await pool.end();
        assert.deepEqual(await backends(app), []);
        assert.deepEqual(await Promise.all(calls), Array(10).fill("ok"));
      },
    ]);

    if (make().notifications === true) {
      cases.push([
        "with pool.listen active: no backend is left, the listen session included",
        async () => {
          const { pool, app } = makePool(one, 3000);
          await pool.listen("end_backends", () => {});
          await pool.query("SELECT 1");
          await pool.end();
          assert.deepEqual(await backends(app), []);
        },
      ]);
    }

    cases.push([
      "with a query that outlasts endTimeoutMs: its caller gets a typed error, and end() does not wait for the server to finish it",
      async () => {
        const { pool, app } = makePool(one, 200);
        await pool.query("SELECT 1");
        const call = outcome(pool.query("SELECT pg_sleep(0.9)"));
        await sleep(50);
        await pool.end();
        // The session was closed before the query answered. The server may still run it for a
        // moment, or have cancelled it already (docs/cancel.md); it never finished it for end().
        const left = await backends(app);
        for (const b of left) {
          assert.equal(b.query, "SELECT pg_sleep(0.9)");
          assert.ok(b.state === "active" || b.state === "idle", `state ${b.state}`);
        }
        assert.equal(await call, "ConnectionError");
      },
    ]);

    const batch = caseBatch(cases);
    after(() => batch.stop());
    for (const [title] of cases) it(title, () => batch.check(title));
  });
}
