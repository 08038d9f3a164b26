/**
 * A pipelined group's pick while the group changes under it, on a real
 * server: drain and resize mid-burst ("no caller sees an error"), a session
 * killed between the lease and its first query, callers aborted or timed out
 * while they wait for the first session behind a stalled network.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { AcquireTimeoutError, createPool, type Pool, PoolError } from "../../mod.ts";
import type { PoolConfigInput } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { serverScope } from "../support/server_scope.ts";
import { appName, backendPids, until, warm } from "../support/backend_probe.ts";
import { burst, pidsOf } from "../support/caller_burst.ts";
import { startProxy } from "../../src/testing/mod.ts";
import { caseBatch } from "../support/case_batch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make } of runtimeDrivers()) {
  describe(`pipelined pick while the group changes, over ${name}`, () => {
    const scope = serverScope();
    const serverPids = (app: string) => backendPids(scope.server, app);

    function makePool(extra: Partial<PoolConfigInput> = {}): { pool: Pool; app: string } {
      const app = appName(`atk_pickr_${name}`);
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server, { application_name: app }),
        groups: { default: { connection_count: 3, pipeline: true } },
        driver: make(),
        reconnectBaseMs: 20,
        reconnectMaxMs: 100,
        acquireTimeoutMs: 3000,
        ...extra,
      }));
      return { pool, app };
    }

    // The changes under load run together, each on its own pool: each test checks its own, and
    // that nothing escaped while any ran; the first waits for all. The stalled network's test,
    // which times the aborts, runs alone after them.
    const cases: [string, () => Promise<void>][] = [];
    const change = (title: string, run: () => Promise<void>) => cases.push([title, run]);

    change(
      "drain() mid-burst: no caller sees an error, and the old sessions go",
      () =>
        withoutEscapes(async () => {
          const { pool, app } = makePool();
          await warm(pool, 3);
          const old = await serverPids(app);
          const sql = "SELECT pg_backend_pid() AS pid, pg_sleep(0.01)";
          const drained = burst(pool, 150, sql);
          pool.drain();
          assert.deepEqual((await drained.done).errors.map(String), []);
          const after = await burst(pool, 30).done;
          assert.deepEqual(after.errors.map(String), []);
          for (const pid of pidsOf(after.rows)) {
            assert.ok(!old.includes(pid), `old session ${pid} served`);
          }
          await until("the old sessions closed", async () => {
            const now = await serverPids(app);
            return !now.some((p) => old.includes(p)) && now.length <= 3;
          });
        }),
    );

    change(
      "resize 3 → 1 mid-burst, then back to 3: no caller sees an error, the size holds",
      () =>
        withoutEscapes(async () => {
          const { pool, app } = makePool();
          await warm(pool, 3);
          const sql = "SELECT pg_backend_pid() AS pid, pg_sleep(0.01)";
          const down = burst(pool, 150, sql);
          pool.resize("default", 1);
          assert.deepEqual((await down.done).errors.map(String), []);
          await until("one session left", async () => (await serverPids(app)).length === 1);
          const one = await burst(pool, 60).done;
          assert.deepEqual(one.errors.map(String), []);
          assert.equal(new Set(pidsOf(one.rows)).size, 1);
          const up = burst(pool, 60, sql);
          pool.resize("default", 3);
          assert.deepEqual((await up.done).errors.map(String), []);
          assert.ok((await serverPids(app)).length <= 3);
        }),
    );

    change(
      "a session killed between the lease and its first query: that query fails typed, the next lease gets a live one",
      () =>
        withoutEscapes(async () => {
          const { pool, app } = makePool({
            groups: { default: { connection_count: 1, pipeline: true } },
          });
          await warm(pool, 1);
          const h = await pool.lease("default");
          const [victim] = await serverPids(app);
          await adminQuery(scope.server, "SELECT pg_terminate_backend($1)", [victim]);
          await until("the backend is gone", async () => (await serverPids(app)).length === 0);
          const err = await h.query("SELECT 1").then(() => undefined, (e: unknown) => e);
          assert.ok(err instanceof PoolError, `got ${String(err)}`);
          await h.release();
          const { rows } = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          assert.notEqual(Number(rows[0].pid), victim);
        }),
    );

    const batch = caseBatch(cases, 50);
    after(() => batch.stop());
    for (const [title] of cases) it(title, { timeout: 60_000 }, () => batch.check(title));

    it("callers waiting for a first session behind a stalled network: aborts win at once, the rest time out typed", async () => {
      const proxy = await startProxy({ target: scope.server });
      try {
        await withoutEscapes(async () => {
          proxy.stall();
          const { pool } = makePool({
            db: endpointOf(scope.server, {
              host: proxy.host,
              port: proxy.port,
              application_name: appName("atk_pickr_px"),
              connect_timeout: 5,
            }),
            acquireTimeoutMs: 300,
          });
          const ac = new AbortController();
          const reason = new Error("caller gave up");
          const aborted = Array.from(
            { length: 20 },
            () =>
              pool.query("SELECT 1", [], { signal: ac.signal }).then(
                () => "resolved",
                (e: unknown) => e,
              ),
          );
          const timed = Array.from(
            { length: 20 },
            () => pool.query("SELECT 1").then(() => "resolved", (e: unknown) => e),
          );
          const pre = pool.query("SELECT 1", [], { signal: AbortSignal.abort(reason) }).then(
            () => "resolved",
            (e: unknown) => e,
          );
          await sleep(50);
          const t0 = Date.now();
          ac.abort(reason);
          const a = await Promise.all(aborted);
          const abortMs = Date.now() - t0;
          for (const e of a) assert.equal(e, reason);
          assert.equal(await pre, reason);
          assert.ok(abortMs < 250, `aborts took ${abortMs} ms`);
          for (const e of await Promise.all(timed)) {
            assert.ok(e instanceof AcquireTimeoutError, `got ${String(e)}`);
          }
        });
      } finally {
        proxy.pass();
        await proxy.close();
      }
    });
  });
}
