/**
 * A pipelined group's session pick attacked on a real server: thousands of
 * callers in one turn, backends killed while busy and while idle, every
 * session dead at once, pool.end() mid-burst, a full wait list behind a dead
 * network. Each caller settles once, typed; nothing escapes; no session leaks;
 * the load spreads over the sessions ("each lease takes the session with the
 * fewest handlers on it", README).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, PoolError, PoolOverloadedError } from "../../mod.ts";
import type { PoolConfigInput } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { serverScope } from "../support/server_scope.ts";
import { appName, backendPids, terminateBackends, until, warm } from "../support/backend_probe.ts";
import { burst, countBy, pidsOf } from "../support/caller_burst.ts";
import { startProxy } from "../../src/testing/mod.ts";
import { caseBatch } from "../support/case_batch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make } of runtimeDrivers()) {
  describe(`pipelined pick under attack over ${name}`, () => {
    const scope = serverScope();

    function makePool(extra: Partial<PoolConfigInput> = {}, size = 3): { pool: Pool; app: string } {
      const app = appName(`atk_pick_${name}`);
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server, { application_name: app }),
        groups: { default: { connection_count: size, pipeline: true } },
        driver: make(),
        reconnectBaseMs: 20,
        reconnectMaxMs: 100,
        acquireTimeoutMs: 3000,
        ...extra,
      }));
      return { pool, app };
    }

    const noBackendLeft = (app: string) =>
      until(
        "no session left",
        async () => (await backendPids(scope.server, app)).length === 0,
      );

    // The cases run together, three at a time, each on its own pool (and proxy), its kills aimed
    // at its own pool's backends: each test checks its own, and that nothing escaped while any
    // ran; the first waits for all.
    const cases: [string, () => Promise<void>][] = [];
    const attack = (title: string, run: () => Promise<void>) => cases.push([title, run]);

    attack(
      "1500 callers in one turn spread evenly over the open sessions",
      () =>
        withoutEscapes(async () => {
          const { pool, app } = makePool();
          await warm(pool, 3);
          const { rows, errors } = await burst(pool, 1500).done;
          assert.equal(errors.length, 0, String(errors[0]));
          const per = [...countBy(pidsOf(rows)).values()];
          assert.equal(per.length, 3, `sessions used: ${per.join(", ")}`);
          // Fewest handlers first: no session gets much more than its share.
          for (const c of per) assert.ok(c >= 400 && c <= 600, `per session: ${per.join(", ")}`);
          assert.ok((await backendPids(scope.server, app)).length <= 3);
          await pool.end();
          await noBackendLeft(app);
        }),
    );

    attack(
      "a busy session killed mid-burst: every caller settles once, typed; the next burst runs",
      () =>
        withoutEscapes(async () => {
          const { pool, app } = makePool();
          await warm(pool, 3);
          const hit = burst(pool, 60, "SELECT pg_backend_pid() AS pid, pg_sleep(0.05)");
          await sleep(30);
          const [victim] = await backendPids(scope.server, app);
          await adminQuery(scope.server, "SELECT pg_terminate_backend($1)", [victim]);
          await hit.done;
          assert.equal(hit.twice, 0);
          assert.equal(hit.rows.length + hit.errors.length, 60);
          for (const err of hit.errors) assert.ok(err instanceof PoolError, String(err));
          // Queries were in flight on the victim: some callers saw it die.
          assert.ok(hit.errors.length > 0, "no caller saw the session die");
          // The dead session left the rotation: a new burst runs on live sessions only.
          const next = await burst(pool, 90).done;
          assert.equal(next.errors.length, 0, String(next.errors[0]));
          assert.ok(!pidsOf(next.rows).includes(victim));
          assert.ok((await backendPids(scope.server, app)).length <= 3);
        }),
    );

    attack(
      "every session killed while idle: the next callers get fresh sessions",
      () =>
        withoutEscapes(async () => {
          const { pool, app } = makePool();
          await warm(pool, 3);
          const old = await backendPids(scope.server, app);
          await terminateBackends(scope.server, app);
          await until(
            "the backends are gone",
            async () => (await backendPids(scope.server, app)).length === 0,
          );
          await sleep(100);
          const { rows, errors } = await burst(pool, 60).done;
          assert.equal(errors.length, 0, String(errors[0]));
          for (const pid of pidsOf(rows)) assert.ok(!old.includes(pid));
          assert.ok((await backendPids(scope.server, app)).length <= 3);
        }),
    );

    attack(
      "pool.end() mid-burst: every caller settles once, typed, and no session is left",
      () =>
        withoutEscapes(async () => {
          const { pool, app } = makePool({ endTimeoutMs: 500 });
          await warm(pool, 3);
          const first = burst(pool, 150, "SELECT pg_backend_pid() AS pid, pg_sleep(0.02)");
          await sleep(10);
          const more = burst(pool, 100);
          await pool.end();
          await Promise.all([first.done, more.done]);
          assert.equal(first.twice + more.twice, 0);
          assert.equal(
            first.rows.length + first.errors.length + more.rows.length + more.errors.length,
            250,
          );
          for (const err of [...first.errors, ...more.errors]) {
            assert.ok(err instanceof PoolError, String(err));
          }
          await noBackendLeft(app);
        }),
    );

    attack(
      "every session reset behind a refusing network, maxWaiting 5: typed failures, then recovery",
      async () => {
        const proxy = await startProxy({ target: scope.server });
        try {
          await withoutEscapes(async () => {
            const { pool } = makePool({
              db: endpointOf(scope.server, {
                host: proxy.host,
                port: proxy.port,
                application_name: appName("atk_pick_px"),
              }),
              groups: { default: { connection_count: 2, pipeline: true, max_waiting: 5 } },
              acquireTimeoutMs: 400,
            });
            await warm(pool, 2);
            proxy.refuse();
            proxy.drop();
            await until("the sessions are seen dead", () => proxy.connectionCount === 0);
            await sleep(50);
            const { rows, errors, twice } = await burst(pool, 40).done;
            assert.equal(twice, 0);
            assert.equal(rows.length + errors.length, 40);
            for (const err of errors) assert.ok(err instanceof PoolError, String(err));
            const overloaded = errors.filter((e) => e instanceof PoolOverloadedError).length;
            assert.ok(overloaded >= 30, `PoolOverloadedError: ${overloaded} of 40`);
            proxy.pass();
            await until(
              "a query runs again",
              () => pool.query("SELECT 1").then(() => true, () => false),
            );
          });
        } finally {
          await proxy.close();
        }
      },
    );

    const batch = caseBatch(cases, 50, 3);
    after(() => batch.stop());
    for (const [title] of cases) it(title, { timeout: 60_000 }, () => batch.check(title));
  });
}
