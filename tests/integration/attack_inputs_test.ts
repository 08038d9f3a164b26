/**
 * Hostile and careless inputs against the `db.sql` tag, `on_connect`,
 * `sqlprepare` and `pool_mode: "transaction"`, against real PostgreSQL (and
 * Debian's pgbouncer where it is installed), per driver of this runtime: each
 * either works as documented or fails with a typed error that says why.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  createPool,
  type Handler,
  HandlerReleasedError,
  type Pool,
  type PoolConfigInput,
  PoolError,
} from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type Bouncer, pgbouncerMissing, startPgbouncer } from "../support/pgbouncer.ts";
import { runtimeDrivers } from "./python_support.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
const missingBouncer = pgbouncerMissing();
let seq = 0;

for (const [name, makeDriver] of await runtimeDrivers()) {
  describe(`attacks over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];
    const table = `attack_${name.replace(/\W/g, "_")}_${isDeno ? "deno" : "bun"}_${
      Date.now() % 1e6
    }`;

    before(async () => {
      server = (await sharedServers())[0];
      await adminQuery(server, `CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
    });

    function pool(
      groups: PoolConfigInput["groups"],
      extra: Partial<PoolConfigInput> & { connect_timeout?: number } = {},
    ): Pool {
      const app = `attack_${name.replace(/\W/g, "_")}_${++seq}_${Date.now() % 1e6}`;
      const { connect_timeout, ...rest } = extra;
      const db = endpointOf(server, { application_name: app, connect_timeout });
      const p = createPool({ db, groups, driver: makeDriver(), ...rest });
      pools.push(p);
      return p;
    }

    it("on_connect SQL that leaves a transaction open: the session is not handed out", async () => {
      const p = pool({ g: { connection_count: 1, on_connect: "BEGIN" } });
      await assert.rejects(
        p.withHandler("g", (db) => db.query(`INSERT INTO ${table} VALUES (1, 'lost')`)),
        (err: unknown) =>
          err instanceof ConnectionError && /its on_connect failed/.test(err.message) &&
          /transaction open/.test(err.message),
      );
    });

    it("an on_connect function that leaves a transaction open: the session is not handed out", async () => {
      const p = pool({ g: { connection_count: 1 } }, {
        onConnect: async (session) => {
          await session.query("BEGIN");
          await session.query("SELECT 1");
        },
      });
      await assert.rejects(
        p.withHandler("g", (db) => db.query(`INSERT INTO ${table} VALUES (2, 'lost')`)),
        (err: unknown) => err instanceof ConnectionError && /transaction open/.test(err.message),
      );
    });

    it("a hook's statements it did not await still count: a failure or an open transaction", async () => {
      const failing = pool({ g: { connection_count: 1 } }, {
        onConnect: (session) => {
          session.query("SELEC 1").catch(() => {}); // no await
        },
      });
      await assert.rejects(
        failing.withHandler("g", (db) => db.query("SELECT 1")),
        (err: unknown) => err instanceof ConnectionError && err.code === "42601",
      );
      const opening = pool({ g: { connection_count: 1 } }, {
        onConnect: (session) => {
          session.query("BEGIN").catch(() => {}); // no await
        },
      });
      await assert.rejects(
        opening.withHandler("g", (db) => db.query("SELECT 1")),
        (err: unknown) => err instanceof ConnectionError && /transaction open/.test(err.message),
      );
    });

    it("on_connect may open and end its own transaction", async () => {
      const p = pool({ g: { connection_count: 1 } }, {
        onConnect: async (session) => {
          await session.query("BEGIN");
          await session.query("SELECT set_config('app.x', 'y', false)");
          await session.query("COMMIT");
        },
      });
      const { rows } = await p.withHandler(
        "g",
        (db) => db.query<{ x: string }>("SELECT current_setting('app.x') AS x"),
      );
      assert.deepEqual(rows, [{ x: "y" }]);
    });

    it("a hook's error quoting a connection URL: the password is not in the ConnectionError", async () => {
      const p = pool({ g: { connection_count: 1 } }, {
        onConnect: () => {
          throw new Error("tenant lookup at postgres://app:s3cret-pw@db9/app failed");
        },
      });
      await assert.rejects(
        p.withHandler("g", (db) => db.query("SELECT 1")),
        (err: unknown) =>
          err instanceof ConnectionError && /its on_connect failed/.test(err.message) &&
          !err.message.includes("s3cret-pw"),
      );
    });

    it("the caller's abort wins over a hook that hangs", async () => {
      let unblock = () => {};
      const blocked = new Promise<void>((r) => unblock = r);
      const p = pool({ g: { connection_count: 1 } }, {
        connect_timeout: 30,
        onConnect: () => blocked,
      });
      const ac = new AbortController();
      const reason = new Error("caller gave up");
      setTimeout(() => ac.abort(reason), 50);
      try {
        await assert.rejects(
          p.withHandler("g", (db) => db.query("SELECT 1"), { signal: ac.signal }),
          (err: unknown) => err === reason || (err as { cause?: unknown }).cause === reason,
        );
      } finally {
        unblock();
      }
    });

    it("on_connect's temp table outlives a handler's own temp table: that session is replaced", async () => {
      const p = pool({
        g: { connection_count: 1, on_connect: "CREATE TEMP TABLE hook_t AS SELECT 1 AS n" },
      });
      const count = () => p.withHandler("g", (db) => db.query("SELECT count(*) FROM hook_t"));
      await count();
      await p.withHandler("g", (db) => db.query("CREATE TEMP TABLE mine (a int)"));
      const { rows } = await count();
      assert.equal(Number(rows[0].count), 1);
      await assert.rejects(
        p.withHandler("g", (db) => db.query("SELECT * FROM mine")),
        (err: unknown) => (err as { code?: string }).code === "42P01",
        "the handler's own temp table is gone with its session",
      );
    });

    it("db.sql`COMMIT` is transaction control as db.query('COMMIT') is", async () => {
      const p = pool({ tx: { connection_count: 1, autocommit: false } });
      await assert.rejects(
        p.withHandler("tx", async (db) => {
          await db.sql(template(`INSERT INTO ${table} VALUES (`, ", ", ")"), 10, "kept");
          await db.sql`COMMIT`;
          await db.sql(template(`INSERT INTO ${table} VALUES (`, ", ", ")"), 11, "rolled back");
          throw new Error("fn fails after the COMMIT");
        }),
        /fn fails/,
      );
      const rows = await adminQuery(
        server,
        `SELECT id FROM ${table} WHERE id IN (10, 11) ORDER BY id`,
      );
      assert.deepEqual(rows.map((r) => r.id), [10]);
    });

    it("db.sql on a released handler rejects with HandlerReleasedError", async () => {
      const p = pool({ g: { connection_count: 1 } });
      let kept: Handler | undefined;
      await p.withHandler("g", (db) => {
        kept = db;
      });
      await assert.rejects(kept!.sql`SELECT ${1}`, HandlerReleasedError);
    });

    it("db.sql: values that look like SQL or placeholders stay values", async () => {
      const p = pool({ g: { connection_count: 1 } });
      const values = ["'; DROP TABLE x; --", "$1", "%s", "$$ $$", "\\'"];
      const { rows } = await p.withHandler(
        "g",
        (db) =>
          db.sql<{ a: string; b: string; c: string; d: string; e: string }>`SELECT ${
            values[0]
          }::text AS a, ${values[1]}::text AS b, ${values[2]}::text AS c, ${
            values[3]
          }::text AS d, ${values[4]}::text AS e`,
      );
      assert.deepEqual(Object.values(rows[0]), values);
    });
  });
}

// A template's strings, as a tag receives them: the table's name is text, not a value.
function template(...parts: string[]): TemplateStringsArray {
  return Object.assign(parts, { raw: parts.slice() });
}

if (missingBouncer === undefined) {
  for (const [name, makeDriver] of await runtimeDrivers()) {
    describe(`attacks behind PgBouncer (transaction mode) over ${name}`, () => {
      let bouncer: Bouncer;
      const pools: Pool[] = [];

      before(async () => {
        bouncer = await startPgbouncer((await sharedServers())[0]);
      });

      after(async () => {
        await Promise.all(pools.map((p) => p.end()));
        await bouncer?.stop();
      });

      it("on_connect cannot set session state through a transaction pooler: refused, naming pool_mode", async () => {
        const db = endpointOf(bouncer.server, { connect_timeout: 5, pool_mode: "transaction" });
        const p = createPool({
          db,
          groups: { g: { connection_count: 1, on_connect: "SET search_path TO pg_catalog" } },
          driver: makeDriver(),
          reconnectMaxMs: 500,
        });
        pools.push(p);
        await assert.rejects(
          p.withHandler("g", (h) => h.query("SELECT 1")),
          (err: unknown) =>
            err instanceof ConnectionError && /its on_connect failed/.test(err.message) &&
            /pool_mode "transaction"/.test(err.message),
        );
      });

      it("pool.listen() through a transaction pooler is refused, naming pool_mode", {
        // Neither client reads notifications: listen() is refused with ListenUnsupportedError
        // before any endpoint is looked at.
        skip: name === "bun-sql"
          ? "Bun.SQL delivers no notifications at all"
          : name === "deno-postgres"
          ? "deno-postgres delivers no notifications at all"
          : false,
      }, async () => {
        const db = endpointOf(bouncer.server, { connect_timeout: 5, pool_mode: "transaction" });
        const p = createPool({
          db,
          groups: { g: { connection_count: 1 } },
          driver: makeDriver(),
          reconnectMaxMs: 500,
        });
        pools.push(p);
        await assert.rejects(
          p.listen("attack_jobs", () => {}),
          (err: unknown) => err instanceof PoolError && /pool_mode "transaction"/.test(err.message),
        );
      });

      it("a temp table that ends with its transaction (ON COMMIT DROP) works through the pooler", async () => {
        const db = endpointOf(bouncer.server, { connect_timeout: 5, pool_mode: "transaction" });
        const p = createPool({
          db,
          groups: { tx: { connection_count: 1, autocommit: false } },
          driver: makeDriver(),
          reconnectMaxMs: 500,
        });
        pools.push(p);
        for (let i = 0; i < 2; i++) {
          const { rows } = await p.withHandler("tx", async (h) => {
            await h.query("CREATE TEMP TABLE stage (a int) ON COMMIT DROP");
            await h.query("INSERT INTO stage VALUES (1), (2)");
            return h.query<{ n: number }>("SELECT count(*)::int AS n FROM stage");
          });
          assert.deepEqual(rows, [{ n: 2 }]);
        }
      });
    });
  }
}
