/**
 * `on_connect` / `onConnect` (pool-wide or per group): SQL or a function run
 * on every new session before its first use; a failure or a hook past its
 * deadline discards the session and fails the lease as a failed connect does.
 * Against real PostgreSQL, per driver of this runtime.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  ConnectionError,
  createPool,
  type Pool,
  type PoolConfigInput,
} from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "./python_support.ts";

let seq = 0;

for (const [name, makeDriver] of await runtimeDrivers()) {
  describe(`onConnect over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    function pool(
      groups: PoolConfigInput["groups"],
      extra: Partial<PoolConfigInput> & { connect_timeout?: number } = {},
    ) {
      const app = `on_connect_${name.replace(/\W/g, "_")}_${++seq}_${Date.now() % 1e6}`;
      const { connect_timeout, ...rest } = extra;
      const db = endpointOf(server, { application_name: app, connect_timeout });
      const p = createPool({ db, groups, driver: makeDriver(), ...rest });
      pools.push(p);
      return { pool: p, app };
    }

    async function sessions(app: string): Promise<number> {
      // Right after a session closes the server may list it for a moment.
      let n = -1;
      for (let i = 0; i < 50; i++) {
        const rows = await adminQuery(
          server,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        n = rows[0].n as number;
        if (n === 0) return 0;
        await new Promise((r) => setTimeout(r, 20));
      }
      return n;
    }

    it("a function runs once on each new session, before fn, and sees group and endpoint", async () => {
      const seen: { pid: number; group: string; endpoint: string }[] = [];
      const { pool: p } = pool({ g: { connection_count: 2 } }, {
        onConnect: async (session) => {
          const { rows } = await session.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          seen.push({ pid: rows[0].pid, group: session.group, endpoint: session.endpoint });
        },
      });
      const pids = await Promise.all([0, 1, 2, 3].map(() =>
        p.withHandler("g", async (db) => {
          const { rows } = await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          await new Promise((r) => setTimeout(r, 20));
          return rows[0].pid;
        })
      ));
      const created = p.stats().groups.g.created;
      assert.equal(seen.length, created, "one run per session, not per lease");
      assert.equal(new Set(seen.map((s) => s.pid)).size, seen.length);
      for (const pid of pids) assert.ok(seen.some((s) => s.pid === pid), "set up before fn");
      for (const s of seen) {
        assert.equal(s.group, "g");
        assert.equal(s.endpoint, `${server.host}:${server.port}`);
      }
    });

    it("SQL text: what it sets stays with the session", async () => {
      const { pool: p } = pool({
        g: { connection_count: 1, on_connect: "CREATE TEMP TABLE seeded AS SELECT 41 + 1 AS n" },
      });
      const n = await p.withHandler("g", async (db) => {
        const { rows } = await db.query<{ n: number }>("SELECT n FROM seeded");
        return rows[0].n;
      });
      assert.equal(n, 42);
    });

    it("a group's on_connect replaces the pool's; pipelined groups run it too", async () => {
      const { pool: p } = pool({
        own: { connection_count: 1, onConnect: "SELECT set_config('app.tag', 'group', false)" },
        inherits: { connection_count: 1 },
        shared: { connection_count: 1, pipeline: true },
      }, { on_connect: "SELECT set_config('app.tag', 'pool', false)" });
      const tag = (g: string) =>
        p.withHandler(g, async (db) => {
          const { rows } = await db.query<{ t: string }>(
            "SELECT current_setting('app.tag', true) AS t",
          );
          return rows[0].t;
        });
      assert.deepEqual([await tag("own"), await tag("inherits"), await tag("shared")], [
        "group",
        "pool",
        "pool",
      ]);
    });

    it("a setting made by on_connect holds for every lease: a handler's SET costs its session, not the setting", async () => {
      const { pool: p } = pool({
        g: { connection_count: 1, on_connect: "SET application_name = 'from_on_connect'" },
      });
      const read = () =>
        p.withHandler("g", async (db) => {
          const { rows } = await db.query<{ a: string }>(
            "SELECT current_setting('application_name') AS a",
          );
          return rows[0].a;
        });
      assert.equal(await read(), "from_on_connect");
      await p.withHandler("g", (db) => db.query("SET work_mem = '8MB'"));
      assert.equal(await read(), "from_on_connect");
      await p.withHandler("g", (db) => db.query("DISCARD ALL"));
      assert.equal(await read(), "from_on_connect");
    });

    it("a throwing hook: the lease fails with a ConnectionError naming it; no session is left", async () => {
      let fail = true;
      const { pool: p, app } = pool({ g: { connection_count: 1 } }, {
        onConnect: (session) => {
          if (fail) throw new Error(`no tenant for ${session.group}`);
        },
      });
      await assert.rejects(
        p.withHandler("g", (db) => db.query("SELECT 1")),
        (err: unknown) =>
          err instanceof ConnectionError &&
          /new session of group "g" on .*: its on_connect failed: no tenant for g/.test(
            err.message,
          ) && err.cause instanceof Error,
      );
      assert.equal(await sessions(app), 0);
      fail = false;
      const { rows } = await p.withHandler("g", (db) => db.query("SELECT 1 AS one"));
      assert.deepEqual(rows, [{ one: 1 }]);
    });

    it("failing SQL: the ConnectionError carries the SQLSTATE", async () => {
      const { pool: p, app } = pool({ g: { connection_count: 1, on_connect: "SELEC 1" } });
      await assert.rejects(
        p.withHandler("g", (db) => db.query("SELECT 1")),
        (err: unknown) =>
          err instanceof ConnectionError && err.code === "42601" &&
          /its on_connect failed/.test(err.message),
      );
      assert.equal(await sessions(app), 0);
    });

    it("a hook past its deadline (the endpoint's connect_timeout) costs the session", async () => {
      // A hook waiting on the client side: the server session stays idle, so closing it ends
      // its backend at once (a pg_sleep would keep the backend until the sleep ends).
      let finish = () => {};
      const { pool: p, app } = pool({ g: { connection_count: 1 } }, {
        connect_timeout: 2,
        onConnect: () => new Promise<void>((resolve) => (finish = resolve)),
      });
      try {
        await assert.rejects(
          p.withHandler("g", (db) => db.query("SELECT 1")),
          (err: unknown) =>
            err instanceof ConnectionError &&
            /its on_connect failed: did not finish within 2000 ms/.test(err.message),
        );
        assert.equal(await sessions(app), 0);
      } finally {
        finish();
      }
    });

    it("config: on_connect must be SQL text or a function", () => {
      assert.throws(
        () =>
          createPool({
            db: endpointOf(server),
            groups: { g: { connection_count: 1, on_connect: 5 as unknown as string } },
          }),
        (err: unknown) =>
          err instanceof ConfigError && /groups\.g\.on_connect/.test(err.message) &&
          /SQL text or a function/.test(err.message),
      );
      assert.throws(
        () =>
          createPool({
            db: endpointOf(server),
            groups: { g: { connection_count: 1 } },
            onConnect: " ",
          }),
        /Invalid config "onConnect"/,
      );
    });
  });
}
