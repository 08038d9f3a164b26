/**
 * What a user sees of withHandler against real PostgreSQL, run once per driver.
 */
import { after, before, describe } from "node:test";
import assert from "node:assert/strict";
import {
  AcquireTimeoutError,
  ConnectionError,
  createPool,
  type Driver,
  type Handler,
  HandlerReleasedError,
  isConnectionBroken,
  OfflineError,
  type Pool,
  type PoolConfigInput,
  QueryError,
  UnconfiguredGroupError,
} from "../../mod.ts";
import { adminQuery, freePort, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { startProxy } from "../../src/testing/mod.ts";
import { gappedTests } from "../support/gapped_tests.ts";

let seq = 0;

/**
 * Registers the pool suite for one driver. `gaps` maps a test title to the
 * reason the driver cannot pass it; such a test is skipped with that reason.
 */
export function poolSuite(
  name: string,
  makeDriver: () => Driver,
  gaps: Readonly<Record<string, string>> = {},
): void {
  const { it, checkGaps } = gappedTests("poolSuite", name, gaps);

  describe(`pool over ${name} against real PostgreSQL`, () => {
    let servers: TestServer[];
    const pools: Pool[] = [];
    const table = `pool_suite_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;

    function endpoint(s: TestServer, app: string) {
      return endpointOf(s, { application_name: app });
    }

    // A pool with its own application_name, so its sessions can be counted on the servers.
    function makePool(
      groups: PoolConfigInput["groups"],
      opts: { servers?: TestServer[]; extra?: Partial<PoolConfigInput>; db?: object[] } = {},
    ): { pool: Pool; app: string } {
      const app = `pgdbpool_${name}_${++seq}`.replace(/\W/g, "_");
      const db = opts.db ?? (opts.servers ?? servers).map((s) => endpoint(s, app));
      const pool = createPool({ db, groups, driver: makeDriver(), ...opts.extra });
      pools.push(pool);
      return { pool, app };
    }

    async function sessions(app: string): Promise<number> {
      let n = 0;
      for (const s of new Set(servers)) {
        const rows = await adminQuery(
          s,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        n += rows[0].n as number;
      }
      return n;
    }

    async function waitForSessions(app: string, want: number): Promise<number> {
      // Right after a session closes the server may list it for a moment.
      let n = -1;
      for (let i = 0; i < 100; i++) {
        n = await sessions(app);
        if (n === want) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      return n;
    }

    before(async () => {
      servers = await sharedServers();
      await adminQuery(servers[0], `CREATE TABLE IF NOT EXISTS ${table} (id int, note text)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(servers[0], `DROP TABLE IF EXISTS ${table}`);
    });

    it("withHandler() returns rows and fn's return value", async () => {
      const { pool } = makePool({ g: { connection_count: 2 } });
      const out = await pool.withHandler("g", async (db) => {
        const r = await db.query<{ n: number; s: string }>(
          "SELECT $1::int AS n, $2::text AS s",
          [41, "x"],
        );
        assert.equal(r.command, "SELECT");
        assert.equal(r.rowCount, 1);
        return r.rows[0].n + 1;
      });
      assert.equal(out, 42);
    });

    it("withHandler() rotates over both servers (inet_server_port)", async () => {
      const { pool } = makePool({ g: { connection_count: 4 } });
      // The first calls are served by the first server's idle session while the second
      // server's opens in the background: a caller never waits on a new connection when a
      // session is idle. Once both are open, calls one at a time alternate.
      for (let i = 0; i < 100 && pool.stats().endpoints.some((e) => e.connections === 0); i++) {
        await pool.withHandler("g", () => {});
        await new Promise((r) => setTimeout(r, 10));
      }
      const ports: number[] = [];
      for (let i = 0; i < 4; i++) {
        ports.push(
          await pool.withHandler(
            "g",
            async (db) =>
              (await db.query<{ p: number }>("SELECT inet_server_port() AS p")).rows[0].p,
          ),
        );
      }
      const [a, b] = servers.map((s) => s.port);
      if (a === b) assert.deepEqual(new Set(ports), new Set([a]));
      else {
        assert.deepEqual(new Set(ports), new Set([a, b]));
        assert.ok(ports.every((p, i) => i === 0 || p !== ports[i - 1]), ports.join());
      }
    });

    it("autocommit group: each statement is committed at once", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } }, { servers: [servers[0]] });
      const id = ++seq;
      await assert.rejects(
        pool.withHandler("g", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES ($1, 'auto')`, [id]);
          throw new Error("after insert");
        }),
        /after insert/,
      );
      const rows = await adminQuery(servers[0], `SELECT * FROM ${table} WHERE id = $1`, [id]);
      assert.equal(rows.length, 1);
    });

    it("transactional group: commits on return, rolls back on throw, commit() mid-way", async () => {
      const { pool } = makePool({ tx: { connection_count: 1, autocommit: false } }, {
        servers: [servers[0]],
      });
      const [ok, bad, mid] = [++seq, ++seq, ++seq];
      await pool.withHandler("tx", (db) => db.query(`INSERT INTO ${table} VALUES ($1)`, [ok]));
      const boom = new Error("boom");
      await assert.rejects(
        pool.withHandler("tx", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES ($1)`, [bad]);
          throw boom;
        }),
        (err) => err === boom,
      );
      await assert.rejects(
        pool.withHandler("tx", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES ($1, 'first')`, [mid]);
          await db.commit();
          await db.query(`INSERT INTO ${table} VALUES ($1, 'second')`, [mid]);
          throw new Error("undo second");
        }),
        /undo second/,
      );
      const count = async (id: number) =>
        (await adminQuery(servers[0], `SELECT note FROM ${table} WHERE id = $1`, [id]))
          .map((r) => r.note);
      assert.equal((await count(ok)).length, 1);
      assert.deepEqual(await count(bad), []);
      assert.deepEqual(await count(mid), ["first"]);
    });

    it("transactional group: a failed statement makes the commit fail with 25P02", async () => {
      const { pool } = makePool({ tx: { connection_count: 1, autocommit: false } }, {
        servers: [servers[0]],
      });
      const id = ++seq;
      await assert.rejects(
        pool.withHandler("tx", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES ($1)`, [id]);
          await db.query("SELECT 1/0").catch(() => {});
        }),
        (err) => err instanceof QueryError && err.code === "25P02",
      );
      assert.deepEqual(
        await adminQuery(servers[0], `SELECT 1 FROM ${table} WHERE id = $1`, [id]),
        [],
      );
      // The session is clean for the next caller.
      const state = await pool.withHandler(
        "tx",
        async (db) => (await db.query<{ s: string }>("SELECT 'clean' AS s")).rows[0].s,
      );
      assert.equal(state, "clean");
    });

    it("QueryError carries SQLSTATE, message and position", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      await assert.rejects(pool.withHandler("g", (db) => db.query("SELEC 1")), (err) => {
        assert.ok(err instanceof QueryError);
        assert.equal(err.code, "42601");
        assert.match(err.message, /syntax error/);
        assert.equal(err.position, 1);
        return true;
      });
      await assert.rejects(
        pool.withHandler("g", (db) => db.query("SELECT * FROM no_such_table_x")),
        (err) => err instanceof QueryError && err.code === "42P01",
      );
    });

    it("withHandler() rejects an unknown group with UnconfiguredGroupError", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      await assert.rejects(pool.withHandler("missing", () => 1), UnconfiguredGroupError);
    });

    it("an exhausted group times out with AcquireTimeoutError", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      const held = await pool.lease("g");
      await assert.rejects(pool.withHandler("g", () => 1, { timeoutMs: 50 }), AcquireTimeoutError);
      await held.release();
      assert.equal(await pool.withHandler("g", () => "free again"), "free again");
    });

    it("200 concurrent calls on 5 connections never open more than 5 sessions", async () => {
      const { pool, app } = makePool({ g: { connection_count: 5 } });
      let peak = 0;
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          pool.withHandler("g", async (db) => {
            if (i % 40 === 0) peak = Math.max(peak, await sessions(app));
            return (await db.query<{ v: number }>("SELECT $1::int AS v", [i])).rows[0].v;
          })),
      );
      assert.deepEqual(results, Array.from({ length: 200 }, (_, i) => i));
      assert.ok(peak <= 5, `peak ${peak}`);
      assert.ok(await sessions(app) <= 5);
      assert.equal(pool.stats().groups.g.leased, 0);
      assert.ok(pool.stats().groups.g.total <= 5);
    });

    it("a backend killed while idle never surfaces to the caller", async () => {
      const { pool, app } = makePool({ g: { connection_count: 1 } }, { servers: [servers[0]] });
      const pid1 = await pool.withHandler(
        "g",
        async (db) =>
          (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid,
      );
      await adminQuery(servers[0], "SELECT pg_terminate_backend($1)", [pid1]);
      await waitForSessions(app, 0);
      const pid2 = await pool.withHandler(
        "g",
        async (db) =>
          (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid,
      );
      assert.notEqual(pid2, pid1);
    });

    it("a backend killed while idle is caught by the ping after the idle window", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } }, {
        servers: [servers[0]],
        extra: { pingAfterIdleMs: 0 },
      });
      const pid1 = await pool.withHandler(
        "g",
        async (db) =>
          (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid,
      );
      await adminQuery(servers[0], "SELECT pg_terminate_backend($1)", [pid1]);
      const pid2 = await pool.withHandler(
        "g",
        async (db) =>
          (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid,
      );
      assert.notEqual(pid2, pid1);
    });

    it("a backend killed mid-call gives ConnectionError, and the pool recovers", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } }, { servers: [servers[0]] });
      await assert.rejects(
        pool.withHandler("g", async (db) => {
          const pid =
            (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
          await adminQuery(servers[0], "SELECT pg_terminate_backend($1)", [pid]);
          await db.query("SELECT pg_sleep(0.05)");
          await db.query("SELECT 1");
        }),
        ConnectionError,
      );
      assert.equal(
        await pool.withHandler("g", async (db) => (await db.query("SELECT 1 AS x")).rows[0].x),
        1,
      );
    });

    it("an endpoint that is down is skipped; all down gives OfflineError quickly", async () => {
      const deadPort = await freePort();
      const dead = {
        host: "127.0.0.1",
        port: deadPort,
        name: "postgres",
        user: "u",
        pass: "pw",
        connect_timeout: 2,
      };
      const { pool } = makePool({ g: { connection_count: 4 } }, {
        db: [dead, endpoint(servers[0], "pgdbpool_down_test")],
      });
      for (let i = 0; i < 4; i++) {
        const port = await pool.withHandler(
          "g",
          async (db) => (await db.query<{ p: number }>("SELECT inet_server_port() AS p")).rows[0].p,
        );
        assert.equal(port, servers[0].port);
      }
      const down = pool.stats().endpoints.find((e) => e.port === deadPort)!;
      assert.equal(down.up, false);
      const { pool: offline } = makePool({ g: { connection_count: 1 } }, { db: [dead] });
      const t0 = performance.now();
      await assert.rejects(offline.withHandler("g", () => 1), (err) => {
        assert.ok(err instanceof OfflineError);
        assert.ok(!err.message.includes("pw@"), err.message);
        return true;
      });
      assert.ok(performance.now() - t0 < 2_500, "within about connect_timeout");
    });

    it("query_timeout cancels a long query with SQLSTATE 57014", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } }, {
        db: [{ ...endpoint(servers[0], "pgdbpool_qt"), query_timeout: 100 }],
      });
      await assert.rejects(
        pool.withHandler("g", (db) => db.query("SELECT pg_sleep(5)")),
        (err) => err instanceof QueryError && err.code === "57014",
      );
      assert.equal(
        await pool.withHandler("g", async (db) => (await db.query("SELECT 2 AS x")).rows[0].x),
        2,
      );
    });

    it("session_tmp_buffer is applied as temp_buffers", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } }, {
        db: [{ ...endpoint(servers[0], "pgdbpool_tb"), session_tmp_buffer: 64 }],
      });
      const v = await pool.withHandler(
        "g",
        async (db) =>
          (await db.query<{ temp_buffers: string }>("SHOW temp_buffers")).rows[0].temp_buffers,
      );
      assert.equal(v, "64MB");
    });

    it("end() leaves no session on the servers and refuses new leases", async () => {
      const { pool, app } = makePool({ g: { connection_count: 4 } });
      await Promise.all(
        [1, 2, 3, 4].map(() => pool.withHandler("g", (db) => db.query("SELECT pg_sleep(0.01)"))),
      );
      assert.ok(await sessions(app) > 0);
      await pool.end();
      assert.equal(await waitForSessions(app, 0), 0);
      await assert.rejects(pool.withHandler("g", () => 1), /ended/);
    });

    it("a handler used after release throws HandlerReleasedError", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      let leaked: { query(t: string): Promise<unknown> } | undefined;
      await pool.withHandler("g", (db) => {
        leaked = db;
      });
      await assert.rejects(leaked!.query("SELECT 1"), HandlerReleasedError);
    });

    it("a pipelined group answers 300 concurrent calls correctly on 2 shared sessions", async () => {
      const { pool, app } = makePool({ fast: { connection_count: 2, pipeline: true } });
      const out = await Promise.all(
        Array.from(
          { length: 300 },
          (_, i) =>
            pool.withHandler(
              "fast",
              async (db) => (await db.query<{ v: number }>("SELECT $1::int AS v", [i])).rows[0].v,
            ),
        ),
      );
      assert.deepEqual(out, Array.from({ length: 300 }, (_, i) => i));
      assert.ok(await sessions(app) <= 2);
      await assert.rejects(pool.withHandler("fast", (db) => db.query("BEGIN")), /pipelined/);
    });

    async function pidOf(pool: Pool, group: string): Promise<number> {
      return await pool.withHandler(group, async (db) => {
        return (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      });
    }

    it("a handler that deallocates its own prepared statement keeps its session", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      const before = await pidOf(pool, "g");
      await pool.withHandler("g", async (db) => {
        await db.query("PREPARE own_stmt AS SELECT 1");
        await db.query("DEALLOCATE own_stmt");
      });
      assert.equal(await pidOf(pool, "g"), before, "no reconnect");
      await pool.withHandler("g", async (db) => {
        await db.query("PREPARE own_stmt AS SELECT 2"); // the name is free again
      });
      assert.equal(await pidOf(pool, "g"), before);
    });

    it("a PREPARE that failed does not cost a reconnect", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      const before = await pidOf(pool, "g");
      await assert.rejects(
        pool.withHandler("g", (db) => db.query("PREPARE broken_stmt AS SELEC 1")),
        (err) => err instanceof QueryError && err.code === "42601",
      );
      assert.equal(await pidOf(pool, "g"), before);
    });

    it("a query fn did not await finishes before the next caller gets the session", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } });
      const order: string[] = [];
      let stray: Promise<unknown> | undefined;
      await pool.withHandler("g", (db) => {
        stray = db.query("SELECT pg_sleep(0.2)").then(() => order.push("stray answered"));
      });
      await pool.withHandler("g", async (db) => {
        order.push("next caller");
        await db.query("SELECT 1");
      });
      await stray;
      assert.deepEqual(order, ["stray answered", "next caller"]);
    });

    it("an abort while the session is pinged never runs fn, and the session stays usable", async () => {
      const { pool } = makePool({ g: { connection_count: 1 } }, { extra: { pingAfterIdleMs: 0 } });
      const before = await pidOf(pool, "g");
      await new Promise((r) => setTimeout(r, 5)); // idle past the window: the next lease pings
      const ac = new AbortController();
      let ran = false;
      const call = pool.withHandler("g", () => (ran = true), { signal: ac.signal });
      const reason = new Error("caller gave up");
      ac.abort(reason);
      await assert.rejects(call, (err) => err === reason);
      assert.equal(ran, false);
      assert.equal(await pidOf(pool, "g"), before, "the pinged session went back to the pool");
    });

    it("a ping unanswered within pingTimeoutMs breaks the session; the caller is served by a new one", async () => {
      const proxy = await startProxy({ target: servers[0] });
      try {
        const { pool } = makePool({ g: { connection_count: 1 } }, {
          db: [endpointOf(servers[0], { host: proxy.host, port: proxy.port })],
          extra: { pingAfterIdleMs: 0, pingTimeoutMs: 300 },
        });
        const before = await pidOf(pool, "g");
        proxy.silenceOpen(); // the idle session's socket goes quiet; a reconnect passes
        await new Promise((r) => setTimeout(r, 5));
        const t0 = Date.now();
        const after = await pidOf(pool, "g");
        const ms = Date.now() - t0;
        assert.notEqual(after, before, "served by a new session");
        assert.ok(ms >= 250 && ms < 5_000, `${ms} ms`);
        console.log(`[${name}] silent session's ping given up, caller served in ${ms} ms`);
        await pool.end();
      } finally {
        await proxy.close();
      }
    });

    it("the caller's timeoutMs wins over a ping that does not answer", async () => {
      const proxy = await startProxy({ target: servers[0] });
      try {
        const { pool } = makePool({ g: { connection_count: 1 } }, {
          db: [endpointOf(servers[0], { host: proxy.host, port: proxy.port })],
          extra: { pingAfterIdleMs: 0, pingTimeoutMs: 60_000 },
        });
        await pidOf(pool, "g");
        proxy.silenceOpen();
        await new Promise((r) => setTimeout(r, 5));
        const t0 = Date.now();
        let ran = false;
        await assert.rejects(
          pool.withHandler("g", () => (ran = true), { timeoutMs: 300 }),
          AcquireTimeoutError,
        );
        const ms = Date.now() - t0;
        assert.equal(ran, false);
        assert.ok(ms < 3_000, `${ms} ms`);
        await pool.end();
      } finally {
        await proxy.close();
      }
    });

    it("a query whose reply never comes is a ConnectionError after query_timeout and a grace", async () => {
      const proxy = await startProxy({ target: servers[0] });
      try {
        const { pool } = makePool({ g: { connection_count: 1 } }, {
          db: [endpointOf(servers[0], { host: proxy.host, port: proxy.port, query_timeout: 500 })],
          extra: { pingAfterIdleMs: 60_000 },
        });
        const before = await pidOf(pool, "g");
        proxy.silenceOpen(); // the server's statement_timeout cannot answer through a silent link
        const t0 = Date.now();
        await assert.rejects(
          pool.withHandler("g", (db) => db.query("SELECT 1")),
          (err) => err instanceof ConnectionError && isConnectionBroken(err),
        );
        const ms = Date.now() - t0;
        assert.ok(ms >= 1_000 && ms < 5_000, `${ms} ms`);
        console.log(`[${name}] silent link: ConnectionError after ${ms} ms (query_timeout 500 ms)`);
        assert.notEqual(await pidOf(pool, "g"), before, "served by a new session");
        await pool.end();
      } finally {
        await proxy.close();
      }
    });

    describe("session hygiene: nothing one caller does leaks to the next", () => {
      const role = "pgdbpool_hygiene_role";

      before(async () => {
        await adminQuery(
          servers[0],
          `DO $$ BEGIN CREATE ROLE ${role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
        );
      });

      // Two leases on a one-connection group: the second must see a clean session.
      async function twoLeases<T>(
        dirty: (db: Handler) => Promise<unknown>,
        check: (db: Handler) => Promise<T>,
        group: { reset?: string } = {},
      ): Promise<T> {
        const { pool } = makePool({ g: { connection_count: 1, ...group } }, {
          servers: [servers[0]],
        });
        const pidOf = async (db: Handler) =>
          (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
        const pid1 = await pool.withHandler("g", async (db) => {
          const pid = await pidOf(db);
          await dirty(db);
          return pid;
        });
        return await pool.withHandler("g", async (db) => {
          assert.equal(await pidOf(db), pid1, "same session");
          return check(db);
        });
      }

      const one = async <T>(db: Handler, sql: string): Promise<T> =>
        Object.values((await db.query(sql)).rows[0])[0] as T;

      it("SET is undone", async () => {
        const v = await twoLeases(
          (db) => db.query("SET statement_timeout = 1234"),
          (db) => one<string>(db, "SHOW statement_timeout"),
        );
        assert.equal(v, "5s");
      });

      it("SET ROLE is undone", async () => {
        const v = await twoLeases(
          (db) => db.query(`SET ROLE ${role}`),
          (db) => one<string>(db, "SELECT current_user"),
        );
        assert.equal(v, servers[0].user);
      });

      it("set_config() is undone", async () => {
        const v = await twoLeases(
          (db) => db.query("SELECT set_config('search_path', 'nowhere', false)"),
          (db) => one<string>(db, "SHOW search_path"),
        );
        assert.equal(v, '"$user", public');
      });

      it("temporary tables are dropped", async () => {
        const v = await twoLeases(
          (db) => db.query("CREATE TEMP TABLE hygiene_tmp (x int)"),
          (db) => one<string | null>(db, "SELECT to_regclass('hygiene_tmp')::text"),
        );
        assert.equal(v, null);
      });

      it("prepared statements are deallocated, the driver's own kept working", async () => {
        const v = await twoLeases(
          (db) => db.query("PREPARE hygiene_q AS SELECT 1"),
          async (db) => {
            await db.query("SELECT $1::int AS again", [1]); // the driver's statements still work
            return one<number>(
              db,
              "SELECT count(*)::int FROM pg_prepared_statements WHERE name = 'hygiene_q'",
            );
          },
        );
        assert.equal(v, 0);
      });

      it("advisory locks are released", async () => {
        const v = await twoLeases(
          (db) => db.query("SELECT pg_advisory_lock(4242)"),
          (db) =>
            one<number>(
              db,
              "SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
            ),
        );
        assert.equal(v, 0);
      });

      it("LISTEN is undone", async () => {
        const v = await twoLeases(
          (db) => db.query("LISTEN hygiene_channel"),
          (db) => one<number>(db, "SELECT count(*)::int FROM pg_listening_channels()"),
        );
        assert.equal(v, 0);
      });

      it("an open transaction is rolled back", async () => {
        const id = ++seq;
        const seen = await twoLeases(
          async (db) => {
            await db.query("BEGIN");
            await db.query(`INSERT INTO ${table} VALUES ($1)`, [id]);
          },
          // Inside the old transaction the row would be visible.
          async (db) =>
            (await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = $1`, [id])).rows[0]
              .n,
        );
        assert.equal(seen, 0);
        assert.deepEqual(
          await adminQuery(servers[0], `SELECT 1 FROM ${table} WHERE id = $1`, [id]),
          [],
        );
      });

      it("a failed transaction is rolled back", async () => {
        const v = await twoLeases(
          async (db) => {
            await db.query("BEGIN");
            await db.query("SELECT 1/0").catch(() => {});
          },
          (db) => one<number>(db, "SELECT 7"),
        );
        assert.equal(v, 7);
      });

      it("markDirty() resets what the pool cannot see (a DO block)", async () => {
        const v = await twoLeases(
          async (db) => {
            await db.query(
              "DO $$ BEGIN PERFORM set_config('search_path', 'nowhere', false); END $$",
            );
            db.markDirty();
          },
          (db) => one<string>(db, "SHOW search_path"),
        );
        assert.equal(v, '"$user", public');
      });

      it('reset: "none" leaves the session as the caller left it', async () => {
        const v = await twoLeases(
          (db) => db.query("SET statement_timeout = 1234"),
          (db) => one<string>(db, "SHOW statement_timeout"),
          { reset: "none" },
        );
        assert.equal(v, "1234ms");
      });

      it("reset: custom SQL runs on every release", async () => {
        const v = await twoLeases(
          async () => {},
          (db) => one<string>(db, "SHOW work_mem"),
          { reset: "SET work_mem = '3MB'" },
        );
        assert.equal(v, "3MB");
      });
    });

    checkGaps();
  });
}
