/**
 * A pipelined group's pick while the group changes under it, on a real
 * server: drain and resize mid-burst ("no caller sees an error"), a session
 * killed between the lease and its first query, callers aborted or timed out
 * while they wait for the first session behind a stalled network.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { AcquireTimeoutError, createPool, type Pool, PoolError } from "../../mod.ts";
import type { PoolConfigInput } from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { watchEscapes } from "../support/escapes.ts";
import { startProxy } from "../../src/testing/mod.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

for (const { name, make } of runtimeDrivers()) {
  describe(`pipelined pick while the group changes, over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    function makePool(extra: Partial<PoolConfigInput> = {}): { pool: Pool; app: string } {
      const app = `atk_pickr_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const pool = createPool({
        db: endpointOf(server, { application_name: app }),
        groups: { default: { connection_count: 3, pipeline: true } },
        driver: make(),
        reconnectBaseMs: 20,
        reconnectMaxMs: 100,
        acquireTimeoutMs: 3000,
        ...extra,
      });
      pools.push(pool);
      return { pool, app };
    }

    async function serverPids(app: string): Promise<number[]> {
      const rows = await adminQuery(
        server,
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      return rows.map((r) => Number(r.pid));
    }

    async function until(what: string, check: () => Promise<boolean> | boolean, ms = 4000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (await check()) return;
        await sleep(20);
      }
      assert.fail(`never happened: ${what}`);
    }

    async function warm(pool: Pool, size: number): Promise<void> {
      await until(`${size} sessions open`, async () => {
        await Promise.all(
          Array.from({ length: 2 * size }, () => pool.query("SELECT pg_sleep(0.01)")),
        );
        const g = pool.stats().groups.default;
        return g.total === size && g.pending === 0;
      });
    }

    /** `n` callers in one turn: their errors, and the pids that served them. */
    async function burst(pool: Pool, n: number, sql: string, during?: () => void) {
      const errors: unknown[] = [];
      const pids: number[] = [];
      const all = Array.from({ length: n }, () =>
        pool.query<{ pid: number }>(sql).then(
          (r) => void pids.push(Number(r.rows[0].pid)),
          (err: unknown) => void errors.push(err),
        ));
      during?.();
      await Promise.all(all);
      return { errors, pids };
    }

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    it("drain() mid-burst: no caller sees an error, and the old sessions go", async () => {
      const escapes = watchEscapes();
      try {
        const { pool, app } = makePool();
        await warm(pool, 3);
        const old = await serverPids(app);
        const sql = "SELECT pg_backend_pid() AS pid, pg_sleep(0.01)";
        const { errors } = await burst(pool, 150, sql, () => pool.drain());
        assert.deepEqual(errors.map(String), []);
        const after = await burst(pool, 30, "SELECT pg_backend_pid() AS pid");
        assert.deepEqual(after.errors.map(String), []);
        for (const pid of after.pids) assert.ok(!old.includes(pid), `old session ${pid} served`);
        await until("the old sessions closed", async () => {
          const now = await serverPids(app);
          return !now.some((p) => old.includes(p)) && now.length <= 3;
        });
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
      }
    });

    it("resize 3 → 1 mid-burst, then back to 3: no caller sees an error, the size holds", async () => {
      const escapes = watchEscapes();
      try {
        const { pool, app } = makePool();
        await warm(pool, 3);
        const sql = "SELECT pg_backend_pid() AS pid, pg_sleep(0.01)";
        const down = await burst(pool, 150, sql, () => pool.resize("default", 1));
        assert.deepEqual(down.errors.map(String), []);
        await until("one session left", async () => (await serverPids(app)).length === 1);
        const one = await burst(pool, 60, "SELECT pg_backend_pid() AS pid");
        assert.deepEqual(one.errors.map(String), []);
        assert.equal(new Set(one.pids).size, 1);
        const up = await burst(pool, 60, sql, () => pool.resize("default", 3));
        assert.deepEqual(up.errors.map(String), []);
        assert.ok((await serverPids(app)).length <= 3);
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
      }
    });

    it("a session killed between the lease and its first query: that query fails typed, the next lease gets a live one", async () => {
      const escapes = watchEscapes();
      try {
        const { pool, app } = makePool({
          groups: { default: { connection_count: 1, pipeline: true } },
        });
        await warm(pool, 1);
        const h = await pool.lease("default");
        const [victim] = await serverPids(app);
        await adminQuery(server, "SELECT pg_terminate_backend($1)", [victim]);
        await until("the backend is gone", async () => (await serverPids(app)).length === 0);
        const err = await h.query("SELECT 1").then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof PoolError, `got ${String(err)}`);
        await h.release();
        const { rows } = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        assert.notEqual(Number(rows[0].pid), victim);
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
      }
    });

    it("callers waiting for a first session behind a stalled network: aborts win at once, the rest time out typed", async () => {
      const escapes = watchEscapes();
      const proxy = await startProxy({ target: server });
      try {
        proxy.stall();
        const { pool } = makePool({
          db: endpointOf(server, {
            host: proxy.host,
            port: proxy.port,
            application_name: `atk_pickr_px_${++seq}`,
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
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
        proxy.pass();
        await proxy.close();
      }
    });
  });
}
