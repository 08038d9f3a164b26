/**
 * The password never shows: not in an error (message, stack, causes, fields),
 * `stats()`, a logged line, `String(pool)`, `JSON.stringify` of the config,
 * the pool or the stats, an event's detail, or what `node:util` `inspect`,
 * `Deno.inspect` and `Bun.inspect` print (hidden properties and getters
 * included). Every path that can carry it is driven for real: bad configs,
 * a wrong password, unreachable endpoints, query errors, a terminated backend,
 * acquire timeouts, a released handler, an ended pool, leak events.
 *
 * The password is distinctive and full of URL-special characters, and is
 * searched for by two random parts, so that a partial or percent-encoded copy
 * is caught too.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertHidden as assertHiddenIn, rejection } from "../support/secret_renderings.ts";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import {
  AcquireTimeoutError,
  ConfigError,
  ConnectionError,
  createPool,
  end,
  HandlerReleasedError,
  init,
  OfflineError,
  type Pool,
  PoolClosedError,
  type PoolConfigInput,
  PoolError,
  QueryError,
} from "../../mod.ts";
import { normalizeConfig, passwordOf } from "../../src/config/normalize.ts";
import { configFromEnv } from "../../src/config/env.ts";
import { adminQuery, freePort, sharedServers, type TestServer } from "../support/servers.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

// Two random parts: whatever is shown of the password, encoded or cut, holds one of them.
const PART_A = `pa${randomBytes(6).toString("hex")}`;
const PART_B = `pb${randomBytes(6).toString("hex")}`;
/** The secret: URL-special characters around two searchable parts. */
const SECRET = `${PART_A}:p@ss/w?rd#&=%${PART_B}`;
const SECRET_URL = encodeURIComponent(SECRET);
const NEEDLES = [PART_A, PART_B];

const drivers = await withDenoPostgres(runtimeDrivers());

// ---------------------------------------------------------------------------
// What "shows" means
// ---------------------------------------------------------------------------

/** Fails when any part of the secret shows in `value` (see tests/support/secret_renderings.ts). */
function assertHidden(value: unknown, where: string): void {
  assertHiddenIn(value, where, NEEDLES);
}

/** The error `fn` throws synchronously (fails if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return assert.fail("expected a throw");
}

/**
 * Runs `fn` with every console method recorded, then asserts that no recorded
 * line shows the password. Library code must not log; a driver might.
 */
async function withConsoleWatched(fn: () => Promise<void>): Promise<void> {
  const methods = ["log", "info", "warn", "error", "debug", "trace"] as const;
  const lines: string[] = [];
  const saved = methods.map((m) => console[m]);
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      lines.push(args.map((a) => typeof a === "string" ? a : inspect(a, { depth: 10 })).join(" "));
      saved[i].apply(console, args);
    };
  });
  try {
    await fn();
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]));
  }
  for (const line of lines) assertHidden(line, "a logged line");
}

// ---------------------------------------------------------------------------
// Configuration: no server needed
// ---------------------------------------------------------------------------

const GROUPS = { g: { connection_count: 1 } };
const DB_URL = `postgres://app:${SECRET_URL}@db1:5432/app`;

describe("secrets: configuration errors and the normalised config", () => {
  it("assertHidden() catches the password in a cause's field, a hidden property, a getter, and encoded or cut copies", () => {
    const cases: [string, unknown][] = [
      ["a cause's field", new Error("x", { cause: Object.assign(new Error("y"), { pw: SECRET }) })],
      ["a hidden property", Object.defineProperty({}, "pw", { value: SECRET, enumerable: false })],
      ["a percent-encoded copy", new Error(`bad ${SECRET_URL}`)],
      ["a cut copy", { lastError: SECRET.slice(0, 16) }],
      ["a getter", {
        get endpoint() {
          return { url: DB_URL };
        },
      }],
    ];
    for (const [what, value] of cases) {
      assert.throws(() => assertHidden(value, what), /the password shows/, what);
    }
    assertHidden(
      new Error("nothing secret", { cause: new Error("still nothing") }),
      "a clean error",
    );
  });

  it("ConfigError for a malformed URL never quotes its password", () => {
    const raw = `postgres://app:${SECRET}@db1/app`; // not percent-encoded: "/", "?", "#", "@" inside
    const bad: [string, unknown][] = [
      ["bad port", `postgres://app:${SECRET_URL}@db1:x/app`],
      ["port out of range", `postgres://app:${SECRET_URL}@db1:70000/app`],
      ["unknown parameter", `${DB_URL}?sslmod=require`],
      ["unknown sslmode", `${DB_URL}?sslmode=always`],
      ["bad connect_timeout", `${DB_URL}?connect_timeout=-1`],
      ["parameter given twice", `${DB_URL}?sslmode=require&sslmode=disable`],
      ["parameter without value", `${DB_URL}?sslmode`],
      ["bad percent-encoding in the password", `postgres://app:${PART_A}%zz${PART_B}@db1/app`],
      ["raw special characters in the password", raw],
      ["raw @ and / in the password", `postgres://app:${PART_A}@/${PART_B}@db1/app`],
      ["empty host between commas", `postgres://app:${SECRET_URL}@db1,,db2/app`],
      ["no host", `postgres://app:${SECRET_URL}@/app`],
      ["unclosed IPv6 bracket", `postgres://app:${SECRET_URL}@[::1/app`],
      ["IPv6 without brackets", `postgres://app:${SECRET_URL}@::1:5432/app`],
      ["host twice", `postgres://app:${SECRET_URL}@db1/app?host=/tmp`],
      ["unknown scheme", `mysql://app:${SECRET_URL}@db1/app`],
      ["no scheme", `app:${SECRET_URL}@db1/app`],
      ["libpq key=value string", `host=db1 user=app password=${SECRET}`],
      ["second URL of a list", [DB_URL, `postgres://app:${SECRET_URL}@db2:0/app`]],
      ["too long an application_name", `${DB_URL}?application_name=${"x".repeat(80)}`],
    ];
    for (const [what, db] of bad) {
      const err = thrown(() => createPool({ db, groups: GROUPS } as PoolConfigInput));
      assert.ok(err instanceof ConfigError, `${what}: expected ConfigError, got ${inspect(err)}`);
      assertHidden(err, `the ConfigError for ${what}`);
    }
  });

  it("ConfigError for a bad endpoint object never quotes its password", () => {
    const endpoint = { host: "db1", user: "app", pass: SECRET };
    const bad: [string, unknown][] = [
      ["pass and password disagree", { ...endpoint, password: `${SECRET}x` }],
      ["password not a string", { host: "db1", password: 42, pass: undefined }],
      ["unknown key", { ...endpoint, passwd: SECRET }],
      ["bad port", { ...endpoint, port: 0 }],
      ["bad ssl mode", { ...endpoint, ssl: "always" }],
      ["ssl as a boolean", { ...endpoint, ssl: true }],
      ["missing host", { user: "app", pass: SECRET }],
      ["empty sslrootcert", { ...endpoint, sslrootcert: "" }],
      ["bad connect_timeout", { ...endpoint, connect_timeout: -1 }],
      ["one bad endpoint of a list", [endpoint, { ...endpoint, port: "x" }]],
    ];
    for (const [what, db] of bad) {
      const err = thrown(() => createPool({ db, groups: GROUPS } as PoolConfigInput));
      assert.ok(err instanceof ConfigError, `${what}: expected ConfigError, got ${inspect(err)}`);
      assertHidden(err, `the ConfigError for ${what}`);
    }
    // An error elsewhere in a config that holds a password.
    for (const extra of [{ groups: { g: { connection_count: 0 } } }, { acquireTimeoutMs: -1 }]) {
      const err = thrown(() =>
        createPool({ db: DB_URL, groups: GROUPS, ...extra } as PoolConfigInput)
      );
      assert.ok(err instanceof ConfigError);
      assertHidden(err, `the ConfigError for ${JSON.stringify(extra)}`);
    }
  });

  it("the normalised config holds no password: JSON.stringify, inspect, String, spread", () => {
    const inputs: [string, PoolConfigInput][] = [
      ["a URL", { db: DB_URL, groups: GROUPS }],
      ["a multi-host URL", { db: `postgres://app:${SECRET_URL}@db1,db2:5433/app`, groups: GROUPS }],
      ["an object with pass", { db: { host: "db1", pass: SECRET }, groups: GROUPS }],
      ["an object with password", { db: [{ host: "db1", password: SECRET }], groups: GROUPS }],
    ];
    for (const [what, input] of inputs) {
      const config = normalizeConfig(input);
      assertHidden(config, `the normalised config of ${what}`);
      for (const endpoint of config.endpoints) {
        assertHidden({ ...endpoint }, `a copy of an endpoint of ${what}`);
        assertHidden(Object.entries(endpoint), `the entries of an endpoint of ${what}`);
        // Kept apart, not lost:
        assert.equal(passwordOf(endpoint), SECRET, what);
      }
    }
  });

  it("the environment's PGPASSWORD and DATABASE_URL never show in its errors or config", () => {
    const vars: Record<string, string> = {
      PGHOST: "db1,db2",
      PGUSER: "app",
      PGPASSWORD: SECRET,
      PGPORT: "1,2,3",
    };
    const env = (name: string) => vars[name];
    assertHidden(thrown(() => configFromEnv(env)), "the ConfigError for PGPORT");
    vars.PGPORT = "5432";
    vars.PGCONNECT_TIMEOUT = "soon";
    assertHidden(thrown(() => configFromEnv(env)), "the ConfigError for PGCONNECT_TIMEOUT");
    delete vars.PGCONNECT_TIMEOUT;
    vars.PGSSLMODE = "always";
    const err = thrown(() => normalizeConfig(configFromEnv(env)));
    assert.ok(err instanceof ConfigError);
    assertHidden(err, "the ConfigError for PGSSLMODE");
    delete vars.PGSSLMODE;
    assertHidden(normalizeConfig(configFromEnv(env)), "the config built from PG* variables");
    const url = { DATABASE_URL: `postgres://app:${SECRET_URL}@db1:port/app` };
    const urlErr = thrown(() =>
      normalizeConfig(configFromEnv((name) => url[name as "DATABASE_URL"]))
    );
    assert.ok(urlErr instanceof ConfigError);
    assertHidden(urlErr, "the ConfigError for DATABASE_URL");
  });

  it(
    "createPool(url) and init(url): a URL where the config object belongs is refused without quoting its password",
    async () => {
      for (const url of [DB_URL, `postgres://app:${SECRET}@db1/app`]) {
        const err = thrown(() => createPool(url as unknown as PoolConfigInput));
        assert.ok(err instanceof ConfigError);
        assertHidden(err, "the ConfigError of createPool(url)");
        const initErr = thrown(() => init(url as unknown as PoolConfigInput));
        assert.ok(initErr instanceof ConfigError);
        assertHidden(initErr, "the ConfigError of init(url)");
      }
      await end();
    },
  );

  it(
    "a URL under groups, a group, connection_count, type or driver is quoted with its password masked",
    () => {
      const misplaced: PoolConfigInput[] = [
        { db: DB_URL, groups: DB_URL as never },
        { db: DB_URL, groups: { g: DB_URL as never } },
        { db: DB_URL, groups: { g: { connection_count: DB_URL as never } } },
        { db: DB_URL, groups: GROUPS, type: DB_URL as never },
        { db: DB_URL, groups: GROUPS, driver: DB_URL as never },
      ];
      for (const config of misplaced) {
        const err = thrown(() => createPool(config));
        assert.ok(err instanceof ConfigError);
        assertHidden(err, `the ConfigError "${(err as ConfigError).path}"`);
      }
    },
  );

  it("a URL given as db.host is refused by ConfigError without quoting its password", () => {
    for (const host of [DB_URL, `postgres://app:${SECRET}@db1/app`]) {
      const err = thrown(() => createPool({ db: { host }, groups: GROUPS }));
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${inspect(err)}`);
      assertHidden(err, "the ConfigError for db.host");
    }
  });
});

// ---------------------------------------------------------------------------
// A running pool, per driver
// ---------------------------------------------------------------------------

// Started while the module loads, not in a before() hook: Bun gives hooks 5 s
// whatever their options, and a first start (initdb) can take longer.
const server: TestServer = (await sharedServers())[0];

for (const driver of drivers) {
  describe(`secrets over ${driver.name}: errors, stats, events, inspect`, () => {
    // A login role whose password is SECRET, for the paths that need a session.
    const role = `pgdbpool_secret_${randomBytes(4).toString("hex")}`;
    const pools: Pool[] = [];
    const events: unknown[] = [];

    before(async () => {
      await adminQuery(server, `CREATE ROLE ${role} LOGIN PASSWORD '${SECRET}'`);
    });

    after(async () => {
      await Promise.allSettled(pools.map((p) => p.end()));
      // Whatever the pools reported stays secret too.
      for (const detail of events) assertHidden(detail, "an event's detail");
      await adminQuery(
        server,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`,
      ).catch(() => {});
      await adminQuery(server, `DROP ROLE IF EXISTS ${role}`).catch(() => {});
    });

    function pool(db: PoolConfigInput["db"], extra: Partial<PoolConfigInput> = {}): Pool {
      const p = createPool({
        db,
        groups: {
          g: { connection_count: 1 },
          tx: { connection_count: 1, autocommit: false },
          shared: { connection_count: 1, pipeline: true },
        },
        driver: driver.make(),
        acquireTimeoutMs: 10_000,
        ...extra,
      });
      for (const type of ["leak", "unreleased"]) {
        p.addEventListener(type, (e) => events.push((e as CustomEvent).detail));
      }
      pools.push(p);
      return p;
    }

    /** The role's endpoint (right password) as a URL. */
    function roleUrl(): string {
      return `postgres://${role}:${SECRET_URL}@${server.host}:${server.port}/${server.database}`;
    }

    /** Everything the pool shows of itself. */
    function assertPoolHidden(p: Pool, when: string): void {
      assertHidden(p, `the pool ${when}`);
      assertHidden(p.stats(), `stats() ${when}`);
      assertHidden(`${p}`, `String(pool) ${when}`);
    }

    it("a wrong password: the refused login's ConnectionError, its causes, stats and logs never show it", async () => {
      await withConsoleWatched(async () => {
        const p = pool({
          host: server.host,
          port: server.port,
          name: server.database,
          user: server.user,
          pass: SECRET, // not the server's password
          connect_timeout: 5,
        });
        const err = await rejection(p.withHandler("g", (db) => db.query("SELECT 1")));
        // A refused login is no outage: a ConnectionError carrying the SQLSTATE.
        assert.ok(err instanceof ConnectionError, `expected ConnectionError, got ${inspect(err)}`);
        assert.equal((err as ConnectionError & { code?: string }).code, "28P01");
        assert.match(messages(err), /password|authentication|28P01/i, "says why");
        assertHidden(err, "the ConnectionError of a wrong password");
        const again = await rejection(p.lease("g"));
        assert.ok(
          again instanceof ConnectionError,
          `expected ConnectionError, got ${inspect(again)}`,
        );
        assertHidden(again, "the ConnectionError of a second try");
        assertPoolHidden(p, "after a failed login");
      });
    });

    it("a common-word password garbles no message: names and addresses that hold it stay whole", async () => {
      // The password is a word that also starts the role, database and user names
      // ("postgres"), or a part of the endpoint's address ("127").
      const common = `postgres_common_${randomBytes(4).toString("hex")}`;
      const missing = `postgres_app_${randomBytes(4).toString("hex")}`;
      const down = await freePort();
      await adminQuery(server, `CREATE ROLE ${common} LOGIN PASSWORD 'postgres'`);
      try {
        const at = { host: server.host, port: server.port, connect_timeout: 5 };
        const cases = [
          // Right password, missing database: 3D000 names the database.
          { db: { ...at, name: missing, user: common, pass: "postgres" }, shows: `"${missing}"` },
          // Wrong password for the server's own user, "postgres": 28P01 names the user.
          {
            db: { ...at, name: server.database, user: server.user, pass: "postgres" },
            shows: `"${server.user}"`,
          },
          // Nothing listens: the driver's message and stats quote the address.
          { db: { ...at, host: "127.0.0.1", port: down, pass: "127" }, shows: `127.0.0.1:${down}` },
        ];
        for (const { db, shows } of cases) {
          const p = pool(db);
          const err = await rejection(p.withHandler("g", (h) => h.query("SELECT 1")));
          const text = messages(err);
          assert.ok(text.includes(shows), `the message names ${shows}: ${text}`);
          assert.ok(!text.includes("****"), `nothing masked in: ${text}`);
          const lastError = p.stats().endpoints[0].lastError ?? "";
          assert.ok(!lastError.includes("****"), `nothing masked in lastError: ${lastError}`);
          await p.end();
        }
      } finally {
        await adminQuery(server, `DROP ROLE IF EXISTS ${common}`).catch(() => {});
      }
    });

    it("unreachable endpoints in a URL with a password: OfflineError and stats never show it", async () => {
      await withConsoleWatched(async () => {
        const [a, b] = [await freePort(), await freePort()];
        const url =
          `postgres://${server.user}:${SECRET_URL}@127.0.0.1:${a},127.0.0.1:${b}/${server.database}?connect_timeout=3`;
        const p = pool(url);
        const err = await rejection(p.withHandler("g", (db) => db.query("SELECT 1")));
        assert.ok(err instanceof OfflineError, `expected OfflineError, got ${inspect(err)}`);
        assertHidden(err, "the OfflineError of two failing endpoints");
        assert.equal(p.stats().endpoints.filter((e) => !e.up).length, 2);
        assertPoolHidden(p, "after every endpoint failed");
      });
    });

    it("an unreachable endpoint and a wrong password in one URL: the errors and stats never show it", async () => {
      await withConsoleWatched(async () => {
        const down = await freePort();
        const url =
          `postgres://${server.user}:${SECRET_URL}@127.0.0.1:${down},${server.host}:${server.port}/${server.database}?connect_timeout=3`;
        const p = pool(url);
        for (let i = 0; i < 2; i++) {
          const err = await rejection(p.withHandler("g", (db) => db.query("SELECT 1")));
          assert.ok(err instanceof PoolError, `expected a PoolError, got ${inspect(err)}`);
          assertHidden(err, "the error of a down endpoint and a refused login");
        }
        assertPoolHidden(p, "after every endpoint failed");
      });
    });

    it("a working pool: handler, endpoint, query errors, stats and the pool never show it", async () => {
      await withConsoleWatched(async () => {
        const p = pool(roleUrl());
        const table = `secrets_${randomBytes(4).toString("hex")}`;
        await p.withHandler("g", async (db) => {
          assert.equal((await db.query("SELECT current_user AS u")).rows[0].u, role);
          assertHidden(db, "the handler");
          assertHidden(db.endpoint, "handler.endpoint");
          const syntax = await rejection(db.query("SELEC 1"));
          assert.ok(syntax instanceof QueryError);
          assertHidden(syntax, "a syntax error");
          await db.query(`CREATE TEMP TABLE ${table} (id int PRIMARY KEY)`);
          await db.query(`INSERT INTO ${table} VALUES (1)`);
          const duplicate = await rejection(db.query(`INSERT INTO ${table} VALUES ($1)`, [1]));
          assert.ok(duplicate instanceof QueryError);
          assertHidden(duplicate, "a unique violation");
          const badParam = await rejection(db.query("SELECT $1::int", ["not a number"]));
          assert.ok(badParam instanceof QueryError);
          assertHidden(badParam, "a bad parameter");
          assertPoolHidden(p, "while a handler is leased");
        });
        // A pipelined group's shared handlers, too.
        await p.withHandler("shared", async (db) => {
          assertHidden(db, "a pipelined group's handler");
          const syntax = await rejection(db.query("SELEC 1"));
          assert.ok(syntax instanceof QueryError);
          assertHidden(syntax, "a syntax error in a pipelined group");
        });
        assertPoolHidden(p, "with idle connections");
      });
    });

    it("AcquireTimeoutError and HandlerReleasedError never show it", async () => {
      await withConsoleWatched(async () => {
        const p = pool(roleUrl());
        let released: { query(text: string): Promise<unknown> } | undefined;
        await p.withHandler("g", async (db) => {
          released = db;
          const err = await rejection(p.withHandler("g", () => 1, { timeoutMs: 50 }));
          assert.ok(err instanceof AcquireTimeoutError, `got ${inspect(err)}`);
          assertHidden(err, "an AcquireTimeoutError");
        });
        const err = await rejection(released!.query("SELECT 1"));
        assert.ok(err instanceof HandlerReleasedError);
        assertHidden(err, "a HandlerReleasedError");
        assertPoolHidden(p, "after a timeout");
      });
    });

    it("a terminated backend: ConnectionError, and the lost-before-COMMIT error, never show it", async () => {
      await withConsoleWatched(async () => {
        const p = pool(roleUrl());
        const kill = (pid: unknown) =>
          adminQuery(server, "SELECT pg_terminate_backend($1::int)", [pid]);
        const lost = await rejection(p.withHandler("g", async (db) => {
          const { rows } = await db.query("SELECT pg_backend_pid() AS pid");
          await kill(rows[0].pid);
          await db.query("SELECT pg_sleep(0.05)");
        }));
        assert.ok(lost instanceof PoolError, `got ${inspect(lost)}`);
        assertHidden(lost, "the error of a terminated session");
        const uncommitted = await rejection(p.withHandler("tx", async (db) => {
          const { rows } = await db.query("SELECT pg_backend_pid() AS pid");
          await kill(rows[0].pid);
          await db.query("SELECT 1").catch(() => {});
        }));
        assert.ok(uncommitted instanceof ConnectionError, `got ${inspect(uncommitted)}`);
        assertHidden(uncommitted, "the ConnectionError of a transaction lost before COMMIT");
        assertPoolHidden(p, "after sessions were lost");
      });
    });

    it("leak events and PoolClosedError never show it", async () => {
      await withConsoleWatched(async () => {
        const p = pool(roleUrl(), { leakDetectionMs: 20 });
        const leaks: unknown[] = [];
        p.addEventListener("leak", (e) => leaks.push((e as CustomEvent).detail));
        const db = await p.lease("g");
        await db.query("SELECT 1");
        for (let waited = 0; leaks.length === 0 && waited < 3000; waited += 10) await sleep(10);
        await db.release();
        assert.ok(leaks.length > 0, "a lease held past leakDetectionMs is reported");
        for (const detail of leaks) assertHidden(detail, "a leak event's detail");
        await p.end();
        const closed = await rejection(p.withHandler("g", () => 1));
        assert.ok(closed instanceof PoolClosedError);
        assertHidden(closed, "a PoolClosedError");
        assertPoolHidden(p, "after end()");
      });
    });
  });
}

/** Messages along the cause chain. */
function messages(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, n = 0; e instanceof Error && n < 10; e = e.cause, n++) {
    parts.push(e.message);
  }
  return parts.join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
