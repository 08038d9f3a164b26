/**
 * The pool behind PgBouncer in transaction mode (`pool_mode = transaction`,
 * two server connections), in front of an embedded server, per driver:
 * exclusive, transactional and pipelined groups, named statements, and
 * session state, which such a pooler cannot keep. Each works, or is refused
 * with an error naming the cause and the setting to change. Skipped, saying
 * why, only when the pgbouncer binary is missing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  ConnectionError,
  createPool,
  type Driver,
  type EndpointInput,
  type Pool,
  type PoolConfigInput,
  PoolError,
  QueryError,
} from "../../mod.ts";
import { normalizeConfig } from "../../src/config/normalize.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type Bouncer, pgbouncerMissing, startPgbouncer } from "../support/pgbouncer.ts";
import { denoPostgresMissing, runtimeDrivers } from "./python_support.ts";

const missing = pgbouncerMissing();
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

if (missing !== undefined) {
  describe("behind PgBouncer", () => {
    it("runs against Debian's pgbouncer", { skip: missing }, () => {});
  });
} else {
  const noDenoPostgres = denoPostgresMissing();
  if (noDenoPostgres !== undefined) {
    describe("behind PgBouncer over deno-postgres", () => {
      it("runs under Deno with a local deno-postgres", { skip: noDenoPostgres }, () => {});
    });
  }
  for (const [name, makeDriver] of await runtimeDrivers()) suite(name, makeDriver);
}

function suite(name: string, makeDriver: () => Driver): void {
  describe(`behind PgBouncer (transaction mode) over ${name}`, () => {
    let server: TestServer;
    let bouncer: Bouncer;
    let lenient: Bouncer;
    let lenient2: Bouncer;
    const pools: Pool[] = [];
    const table = `pgb_${name.replace(/\W/g, "_")}_${isDeno ? "deno" : "bun"}_${Date.now() % 1e6}`;

    before(async () => {
      server = (await sharedServers())[0];
      bouncer = await startPgbouncer(server);
      // One a user configured to ignore the settings it does not know.
      lenient = await startPgbouncer(server, {
        poolSize: 1,
        extra: ["ignore_startup_parameters = statement_timeout, temp_buffers, options"],
      });
      lenient2 = await startPgbouncer(server, {
        poolSize: 2,
        extra: ["ignore_startup_parameters = statement_timeout, temp_buffers, options"],
      });
      await adminQuery(server, `CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
      await bouncer?.stop();
      await lenient?.stop();
      await lenient2?.stop();
    });

    function pool(
      groups: PoolConfigInput["groups"],
      endpoint: EndpointInput = { pool_mode: "transaction" },
      through: Bouncer = bouncer,
    ): Pool {
      const db = endpointOf(through.server, { connect_timeout: 5, ...endpoint });
      const p = createPool({ db, groups, driver: makeDriver(), reconnectMaxMs: 500 });
      pools.push(p);
      return p;
    }

    it("without pool_mode, the refused startup settings fail the lease with the setting to change", async () => {
      const p = pool({ g: { connection_count: 1 } }, {});
      await assert.rejects(
        p.withHandler("g", (db) => db.query("SELECT 1")),
        (err: unknown) =>
          err instanceof ConnectionError && err.code === "08P01" &&
          /unsupported startup parameter/.test(err.message) &&
          /pool_mode: "transaction"/.test(err.message) &&
          /ignore_startup_parameters/.test(err.message),
      );
    });

    it("exclusive group: many callers over two server connections, the same texts again and again", async () => {
      const p = pool({ g: { connection_count: 6 } });
      for (let round = 0; round < 3; round++) {
        const got = await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            p.withHandler("g", async (db) => {
              const a = await db.query<{ n: number }>("SELECT $1::int AS n", [i]);
              const b = await db.query<{ one: number }>("SELECT 1 AS one");
              return a.rows[0].n + b.rows[0].one;
            })),
        );
        assert.deepEqual(got, Array.from({ length: 24 }, (_, i) => i + 1));
      }
    });

    it("a driver asked for named statements gets unnamed ones: pool_mode wins", async () => {
      const p = pool({ g: { connection_count: 4 } });
      const rows = await Promise.all(
        Array.from(
          { length: 16 },
          (_, i) =>
            p.withHandler("g", (db) => db.query<{ t: string }>("SELECT $1::text AS t", [`v${i}`])),
        ),
      );
      assert.deepEqual(rows.map((r) => r.rows[0].t), Array.from({ length: 16 }, (_, i) => `v${i}`));
    });

    it("transactional group: one server session per transaction, commit and rollback", async () => {
      const p = pool({ tx: { connection_count: 4, autocommit: false } });
      const pids = await Promise.all([1, 2, 3].map((id) =>
        p.withHandler("tx", async (db) => {
          const a = await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          await db.query(`INSERT INTO ${table} VALUES ($1, 'kept')`, [id]);
          // SET LOCAL ends with the transaction: allowed.
          await db.query("SET LOCAL statement_timeout = 1234");
          const s = await db.query<{ t: string }>(
            "SELECT current_setting('statement_timeout') AS t",
          );
          const b = await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          return [a.rows[0].pid === b.rows[0].pid, s.rows[0].t];
        })
      ));
      for (const [same, timeout] of pids) assert.deepEqual([same, timeout], [true, "1234ms"]);
      await assert.rejects(
        p.withHandler("tx", async (db) => {
          await db.query(`INSERT INTO ${table} VALUES (4, 'lost')`);
          throw new Error("fn failed");
        }),
        /fn failed/,
      );
      const rows = await adminQuery(server, `SELECT id FROM ${table} ORDER BY id`);
      assert.deepEqual(rows.map((r) => r.id), [1, 2, 3]);
    });

    it("pipelined group: concurrent queries on one client connection", async () => {
      const p = pool({ shared: { connection_count: 1, pipeline: true } });
      const got = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            p.withHandler(
              "shared",
              (db) => db.query<{ n: number }>("SELECT $1::int * 2 AS n", [i]),
            ),
        ),
      );
      assert.deepEqual(got.map((r) => r.rows[0].n), Array.from({ length: 20 }, (_, i) => i * 2));
    });

    it("session state is refused before it is sent, naming pool_mode; the handler goes on", async () => {
      const p = pool({ g: { connection_count: 1 } });
      const refused = [
        "SET search_path TO pg_catalog",
        "SELECT set_config('app.x', '1', false)",
        "PREPARE mine AS SELECT 1",
        "CREATE TEMP TABLE scratch (n int)",
        "SELECT pg_advisory_lock(42)",
        "LISTEN somewhere",
      ];
      await p.withHandler("g", async (db) => {
        for (const text of refused) {
          await assert.rejects(
            db.query(text),
            (err: unknown) =>
              err instanceof PoolError && !(err instanceof QueryError) &&
              /pool_mode "transaction"/.test(err.message) && /SET LOCAL/.test(err.message),
          );
        }
        const { rows } = await db.query<{ p: string }>(
          "SELECT current_setting('search_path') AS p",
        );
        assert.notEqual(rows[0].p, "pg_catalog");
      });
      // Nothing reached a server session: no session of the server holds the lock.
      const locks = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'",
      );
      assert.equal(locks[0].n, 0);
    });

    it("pool_mode: the URL parameter, and a value that is no mode", () => {
      const config = normalizeConfig({
        db: "postgres://u:p@h1:6432/app?pool_mode=transaction",
        groups: { g: { connection_count: 1 } },
      });
      assert.equal(config.endpoints[0].poolMode, "transaction");
      assert.throws(
        () =>
          normalizeConfig({
            db: { host: "h", poolMode: "statement" },
            groups: { g: { connection_count: 1 } },
          }),
        /Invalid config "db.poolMode": expected one of "session", "transaction", got "statement"/,
      );
    });

    it("sqlprepare cannot work through a transaction pooler: a ConfigError says why", () => {
      assert.throws(
        () => pool({ py: { connection_count: 1, sqlprepare: true } }),
        (err: unknown) =>
          err instanceof ConfigError && /groups\.py\.sqlprepare/.test(err.message) &&
          /pool_mode "transaction"/.test(err.message),
      );
    });

    // A pooler told to ignore the settings, and no pool_mode: node-postgres's and Bun.SQL's
    // named statements break, and every such error names the cause and the setting.
    // postgres.js names its statements uniquely per process and parses again after a
    // 26000; deno-postgres sends unnamed statements only: neither breaks here.
    const broken: QueryError[] = [];

    function hinted(outcome: PromiseSettledResult<unknown>): void {
      if (outcome.status === "fulfilled") return;
      const err = outcome.reason as QueryError;
      assert.ok(
        err instanceof QueryError && ["42P05", "26000"].includes(err.code ?? ""),
        String(err),
      );
      assert.match(err.message, /transaction-mode pooler.*set pool_mode: "transaction"/);
      broken.push(err);
    }

    it("without pool_mode: two client sessions over one server session collide on a statement name", async () => {
      const p = pool({ g: { connection_count: 2 } }, {}, lenient);
      await p.open();
      const outcomes = await Promise.allSettled([0, 1].map((i) =>
        p.withHandler("g", async (db) => {
          await new Promise((r) => setTimeout(r, 30 * i)); // both sessions held, one after the other
          const { rows } = await db.query<{ n: number }>("SELECT $1::int AS n", [i]);
          await new Promise((r) => setTimeout(r, 60 - 30 * i));
          return rows[0].n;
        })
      ));
      outcomes.forEach(hinted);
    });

    it("without pool_mode: a statement parsed on one server session is bound on another", async () => {
      const p = pool(
        { g: { connection_count: 1 }, tx: { connection_count: 1, autocommit: false } },
        {},
        lenient2,
      );
      const query = (n: number) => p.withHandler("g", (db) => db.query("SELECT $1::int AS n", [n]));
      (await Promise.allSettled([query(1)])).forEach(hinted);
      // An open transaction holds the server session used last (PgBouncer reuses it first).
      const held = await p.lease("tx");
      try {
        (await Promise.allSettled([held.query("SELECT 2")])).forEach(hinted);
        (await Promise.allSettled([query(2)])).forEach(hinted);
      } finally {
        await held.release();
      }
      const breaks = name === "node-postgres" || name === "bun-sql";
      assert.equal(broken.length > 0, breaks, broken.map((e) => e.message).join("; "));
    });
  });
}
