/**
 * A pipelined group's session pick attacked on a real server: thousands of
 * callers in one turn, backends killed while busy and while idle, every
 * session dead at once, pool.end() mid-burst, a full wait list behind a dead
 * network. Each caller settles once, typed; nothing escapes; no session leaks;
 * the load spreads over the sessions ("each lease takes the session with the
 * fewest handlers on it", README).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, PoolError, PoolOverloadedError } from "../../mod.ts";
import type { PoolConfigInput } from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { watchEscapes } from "../support/escapes.ts";
import { startProxy } from "../../src/testing/mod.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

for (const { name, make } of runtimeDrivers()) {
  describe(`pipelined pick under attack over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    function makePool(extra: Partial<PoolConfigInput> = {}, size = 3): { pool: Pool; app: string } {
      const app = `atk_pick_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const pool = createPool({
        db: endpointOf(server, { application_name: app }),
        groups: { default: { connection_count: size, pipeline: true } },
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

    /** Opens every session of the group: bursts until `size` are open. */
    async function warm(pool: Pool, size: number): Promise<void> {
      await until(`${size} sessions open`, async () => {
        await Promise.all(
          Array.from({ length: 2 * size }, () => pool.query("SELECT pg_sleep(0.01)")),
        );
        const g = pool.stats().groups.default;
        // `total` counts a session still opening too: wait for it to be in the list.
        return g.total === size && g.pending === 0;
      });
    }

    /** `n` callers started in one turn; each settles into `fulfilled` or `rejected`. */
    function burst(pool: Pool, n: number, sql: string) {
      const settled = { fulfilled: [] as number[], rejected: [] as unknown[], twice: 0 };
      const seen = new Set<number>();
      const all = Array.from({ length: n }, (_, i) =>
        pool.query<{ pid: number }>(sql).then(
          (r) => {
            if (seen.has(i)) settled.twice++;
            seen.add(i);
            settled.fulfilled.push(Number(r.rows[0].pid));
          },
          (err: unknown) => {
            if (seen.has(i)) settled.twice++;
            seen.add(i);
            settled.rejected.push(err);
          },
        ));
      return { settled, done: Promise.all(all) };
    }

    function countBy(pids: number[]): Map<number, number> {
      const m = new Map<number, number>();
      for (const p of pids) m.set(p, (m.get(p) ?? 0) + 1);
      return m;
    }

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    it("1500 callers in one turn spread evenly over the open sessions", async () => {
      const escapes = watchEscapes();
      try {
        const { pool, app } = makePool();
        await warm(pool, 3);
        const { settled, done } = burst(pool, 1500, "SELECT pg_backend_pid() AS pid");
        await done;
        assert.equal(settled.rejected.length, 0, String(settled.rejected[0]));
        const per = [...countBy(settled.fulfilled).values()];
        assert.equal(per.length, 3, `sessions used: ${per.join(", ")}`);
        // Fewest handlers first: no session gets much more than its share.
        for (const c of per) assert.ok(c >= 400 && c <= 600, `per session: ${per.join(", ")}`);
        assert.ok((await serverPids(app)).length <= 3);
        await pool.end();
        await until("no session left", async () => (await serverPids(app)).length === 0);
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
      }
    });

    it("a busy session killed mid-burst: every caller settles once, typed; the next burst runs", async () => {
      const escapes = watchEscapes();
      try {
        const { pool, app } = makePool();
        await warm(pool, 3);
        const { settled, done } = burst(pool, 60, "SELECT pg_backend_pid() AS pid, pg_sleep(0.05)");
        await sleep(30);
        const [victim] = await serverPids(app);
        await adminQuery(server, "SELECT pg_terminate_backend($1)", [victim]);
        await done;
        assert.equal(settled.twice, 0);
        assert.equal(settled.fulfilled.length + settled.rejected.length, 60);
        for (const err of settled.rejected) assert.ok(err instanceof PoolError, String(err));
        // Queries were in flight on the victim: some callers saw it die.
        assert.ok(settled.rejected.length > 0, "no caller saw the session die");
        // The dead session left the rotation: a new burst runs on live sessions only.
        const next = burst(pool, 90, "SELECT pg_backend_pid() AS pid");
        await next.done;
        assert.equal(next.settled.rejected.length, 0, String(next.settled.rejected[0]));
        assert.ok(!next.settled.fulfilled.includes(victim));
        assert.ok((await serverPids(app)).length <= 3);
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
      }
    });

    it("every session killed while idle: the next callers get fresh sessions", async () => {
      const escapes = watchEscapes();
      try {
        const { pool, app } = makePool();
        await warm(pool, 3);
        const old = await serverPids(app);
        await adminQuery(
          server,
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        await until("the backends are gone", async () => (await serverPids(app)).length === 0);
        await sleep(100);
        const { settled, done } = burst(pool, 60, "SELECT pg_backend_pid() AS pid");
        await done;
        assert.equal(settled.rejected.length, 0, String(settled.rejected[0]));
        for (const pid of settled.fulfilled) assert.ok(!old.includes(pid));
        assert.ok((await serverPids(app)).length <= 3);
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
      }
    });

    it("pool.end() mid-burst: every caller settles once, typed, and no session is left", async () => {
      const escapes = watchEscapes();
      try {
        const { pool, app } = makePool({ endTimeoutMs: 500 });
        await warm(pool, 3);
        const { settled, done } = burst(
          pool,
          150,
          "SELECT pg_backend_pid() AS pid, pg_sleep(0.02)",
        );
        await sleep(10);
        const more = burst(pool, 100, "SELECT pg_backend_pid() AS pid");
        await pool.end();
        await Promise.all([done, more.done]);
        const all = [...settled.rejected, ...more.settled.rejected];
        assert.equal(settled.twice + more.settled.twice, 0);
        assert.equal(
          settled.fulfilled.length + settled.rejected.length + more.settled.fulfilled.length +
            more.settled.rejected.length,
          250,
        );
        for (const err of all) assert.ok(err instanceof PoolError, String(err));
        await until("no session left", async () => (await serverPids(app)).length === 0);
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
      }
    });

    it("every session reset behind a refusing network, maxWaiting 5: typed failures, then recovery", async () => {
      const escapes = watchEscapes();
      const proxy = await startProxy({ target: server });
      try {
        const { pool } = makePool({
          db: endpointOf(server, {
            host: proxy.host,
            port: proxy.port,
            application_name: `atk_pick_px_${++seq}`,
          }),
          groups: { default: { connection_count: 2, pipeline: true, max_waiting: 5 } },
          acquireTimeoutMs: 400,
        });
        await warm(pool, 2);
        proxy.refuse();
        proxy.drop();
        await until("the sessions are seen dead", () => proxy.connectionCount === 0);
        await sleep(50);
        const { settled, done } = burst(pool, 40, "SELECT pg_backend_pid() AS pid");
        await done;
        assert.equal(settled.twice, 0);
        assert.equal(settled.fulfilled.length + settled.rejected.length, 40);
        for (const err of settled.rejected) assert.ok(err instanceof PoolError, String(err));
        const overloaded = settled.rejected.filter((e) => e instanceof PoolOverloadedError).length;
        assert.ok(overloaded >= 30, `PoolOverloadedError: ${overloaded} of 40`);
        proxy.pass();
        await until(
          "a query runs again",
          () => pool.query("SELECT 1").then(() => true, () => false),
        );
        assert.deepEqual(escapes.escaped, []);
      } finally {
        escapes.stop();
        await proxy.close();
      }
    });
  });
}
