/**
 * The driver conformance suite: what every adapter must do against real
 * PostgreSQL, whatever client library it wraps. Each adapter's test file
 * registers it once per configuration:
 *
 * ```ts
 * driverConformance("postgresjs", () => postgresjs(), sharedServers);
 * ```
 *
 * It checks the contract of `src/driver.ts` only (one connection is one
 * session; `$1` parameters; rows, row count and command verb; server errors
 * as `QueryError`; startup settings; a lost session stays lost and never
 * reconnects; connect failures reject in time and never show the password;
 * TLS modes), nothing a particular library adds.
 *
 * @module
 */
import { after, before, describe } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import type { ConnectParams, Driver, DriverConnection } from "../../src/driver.ts";
import { ConnectionError, isLoginRefused, isRetryable, QueryError } from "../../src/errors.ts";
import type { DriverNotice } from "../../src/driver.ts";
import { adminQuery, freePort, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { gappedTests } from "../support/gapped_tests.ts";

/** A self-signed CA that signed nothing: no server certificate verifies against it. */
const UNRELATED_CA = `-----BEGIN CERTIFICATE-----
MIIBojCCAUmgAwIBAgIUdZgWj99lyXS/5siLrz8ZLVIBAu0wCgYIKoZIzj0EAwIw
JjEkMCIGA1UEAwwbcGdkYnBvb2wgdGVzdDogdW5yZWxhdGVkIENBMCAXDTI2MTEy
NjIyNDQyM1oYDzIxMjYxMTAyMjI0NDIzWjAmMSQwIgYDVQQDDBtwZ2RicG9vbCB0
ZXN0OiB1bnJlbGF0ZWQgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQlOWBh
ybm+Yl6/Nf36AiXzZYyT3Ft7Ud9VDbtfu7tsot/kZ7AjRs24c3zcO273G6yTffrh
JTQnG6aEUG1W/FnEo1MwUTAdBgNVHQ4EFgQUqAxbXAs2IAjuH02XraEvf1KLiKAw
HwYDVR0jBBgwFoAUqAxbXAs2IAjuH02XraEvf1KLiKAwDwYDVR0TAQH/BAUwAwEB
/zAKBggqhkjOPQQDAgNHADBEAiBWO0zBb5pjt9yJy+14Mo3KihpDuRfjKEhBVfsm
gcRk8QIgJyg6Evc7xXhNkWiW82Sc38Y5HSOWum8QZjEPI+Al2JA=
-----END CERTIFICATE-----
`;

let serial = 0;

// PEM file of the CA that signed the test server's certificate, when there is one.
const ROOT_CERT_VAR = "PGDBPOOL_TEST_SSL_ROOT_CERT";
const rootCertPath = globalThis.process?.env?.[ROOT_CERT_VAR];

/** Options of {@linkcode driverConformance}. */
export interface ConformanceOptions {
  /**
   * Known gaps of the driver: test title → the reason it cannot pass. Those
   * tests are registered as skipped, with the reason, instead of failing.
   */
  gaps?: Readonly<Record<string, string>>;
}

/**
 * Registers the conformance suite for one driver configuration.
 *
 * @param name Shown in the test names, e.g. `"postgresjs"`.
 * @param makeDriver Builds a fresh driver (called once per test).
 * @param servers The servers to run against; the first one is used.
 * @param options Declared gaps.
 *
 * @example A driver that cannot do one thing
 * ```ts ignore
 * driverConformance("mydriver", () => myDriver(), sharedServers, {
 *   gaps: { "ssl prefer connects whether or not the server offers TLS": "always verifies" },
 * });
 * ```
 */
export function driverConformance(
  name: string,
  makeDriver: () => Driver,
  servers: () => Promise<TestServer[]>,
  options: ConformanceOptions = {},
): void {
  // Every test goes through this `it` so that a declared gap skips it, with its reason.
  const { it, checkGaps } = gappedTests("driverConformance", name, options.gaps);

  describe(`driver conformance: ${name}`, () => {
    let server: TestServer;
    let serverHasTls = false;
    const open: DriverConnection[] = [];

    before(async () => {
      server = (await servers())[0];
      const rows = await adminQuery(server, "SELECT current_setting('ssl') AS ssl");
      serverHasTls = rows[0].ssl === "on";
    });

    after(async () => {
      await Promise.all(open.map((c) => c.close()));
    });

    /** A fresh application_name, to find this test's sessions in pg_stat_activity. */
    function appName(): string {
      return `conf_${name.replace(/\W/g, "_")}_${++serial}_${Date.now() % 100000}`;
    }

    function params(overrides: Partial<ConnectParams> = {}): ConnectParams {
      return connectParams(server, overrides);
    }

    async function connect(overrides: Partial<ConnectParams> = {}): Promise<DriverConnection> {
      const conn = await makeDriver().connect(params(overrides));
      open.push(conn);
      return conn;
    }

    async function sessionsNamed(app: string): Promise<number> {
      const rows = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      return rows[0].n as number;
    }

    /** Polls until `app` has `want` sessions (the server may list a closed one for a moment). */
    async function waitForSessions(app: string, want: number): Promise<number> {
      let n = -1;
      for (let i = 0; i < 100; i++) {
        n = await sessionsNamed(app);
        if (n === want) break;
        await sleep(20);
      }
      return n;
    }

    async function pidOf(conn: DriverConnection): Promise<number> {
      return (await conn.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    }

    async function terminate(pid: number): Promise<void> {
      await adminQuery(server, "SELECT pg_terminate_backend($1)", [pid]);
    }

    it("connect() resolves with the session already open on the server", async () => {
      const app = appName();
      const conn = await connect({ settings: { application_name: app } });
      assert.equal(conn.closed, false);
      assert.equal(await sessionsNamed(app), 1);
    });

    it("query() runs SELECT 1: one row, rowCount 1, command SELECT", async () => {
      const conn = await connect();
      const result = await conn.query("SELECT 1 AS one");
      assert.deepEqual([...result.rows], [{ one: 1 }]);
      assert.equal(result.rowCount, 1);
      assert.equal(result.command, "SELECT");
    });

    it("query() binds $1 parameters: int, text and null", async () => {
      const conn = await connect();
      const { rows } = await conn.query(
        "SELECT $1::int AS i, $2::text AS t, $3::int AS n, $1::int + 1 AS j",
        [41, "it's ; a $1 text", null],
      );
      assert.deepEqual([...rows], [{ i: 41, t: "it's ; a $1 text", n: null, j: 42 }]);
    });

    it("query() reports rowCount and command for INSERT, UPDATE, DELETE and SELECT", async () => {
      const conn = await connect();
      const created = await conn.query("CREATE TEMP TABLE conf_rows (id int, note text)");
      assert.equal(created.command, "CREATE");
      const inserted = await conn.query(
        "INSERT INTO conf_rows VALUES ($1, 'a'), ($2, 'b'), (3, 'c')",
        [1, 2],
      );
      assert.equal(inserted.command, "INSERT");
      assert.equal(inserted.rowCount, 3);
      assert.equal(inserted.rows.length, 0);
      const updated = await conn.query("UPDATE conf_rows SET note = 'x' WHERE id <= $1", [2]);
      assert.deepEqual([updated.command, updated.rowCount], ["UPDATE", 2]);
      const returning = await conn.query("UPDATE conf_rows SET id = id + 10 RETURNING id");
      assert.deepEqual([returning.command, returning.rowCount], ["UPDATE", 3]);
      assert.deepEqual(returning.rows.map((r) => r.id).sort(), [11, 12, 13]);
      const deleted = await conn.query("DELETE FROM conf_rows WHERE id = 13");
      assert.deepEqual([deleted.command, deleted.rowCount], ["DELETE", 1]);
      const selected = await conn.query("SELECT id, note FROM conf_rows ORDER BY id");
      assert.equal(selected.command, "SELECT");
      assert.equal(selected.rowCount, 2);
      assert.deepEqual([...selected.rows], [{ id: 11, note: "x" }, { id: 12, note: "x" }]);
      const none = await conn.query("SELECT id FROM conf_rows WHERE id < 0");
      assert.deepEqual([none.rowCount, none.rows.length], [0, 0]);
    });

    it("query() counts the rows of statements whose tag has no count (SHOW)", async () => {
      const conn = await connect();
      const shown = await conn.query("SHOW server_version_num");
      assert.equal(shown.command, "SHOW");
      assert.equal(shown.rows.length, 1);
      assert.equal(shown.rowCount, 1);
    });

    it("query() runs BEGIN, COMMIT and ROLLBACK as raw statements on the session", async () => {
      const conn = await connect();
      await conn.query("CREATE TEMP TABLE conf_tx (id int)");
      assert.equal((await conn.query("BEGIN")).command, "BEGIN");
      await conn.query("INSERT INTO conf_tx VALUES (1)");
      assert.equal((await conn.query("COMMIT")).command, "COMMIT");
      assert.equal((await conn.query("START TRANSACTION")).command, "START");
      await conn.query("INSERT INTO conf_tx VALUES (2)");
      const inside = await conn.query("SELECT count(*)::int AS n FROM conf_tx");
      assert.equal(inside.rows[0].n, 2);
      assert.equal((await conn.query("ROLLBACK")).command, "ROLLBACK");
      const after = await conn.query("SELECT count(*)::int AS n FROM conf_tx");
      assert.equal(after.rows[0].n, 1);
    });

    it("query() pipelines: BEGIN, the next query and COMMIT sent back to back all resolve in order", async () => {
      const conn = await connect();
      const begin = conn.query("BEGIN");
      const many = Array.from({ length: 50 }, (_, i) => conn.query("SELECT $1::int AS i", [i]));
      const commit = conn.query("COMMIT");
      assert.equal((await begin).command, "BEGIN");
      const results = await Promise.all(many);
      assert.deepEqual(results.map((r) => r.rows[0].i), Array.from({ length: 50 }, (_, i) => i));
      assert.equal((await commit).command, "COMMIT");
    });

    it("query() runs a parameterless text of several statements", async () => {
      const conn = await connect();
      const result = await conn.query(
        "CREATE TEMP TABLE conf_multi (id int); INSERT INTO conf_multi VALUES (1), (2); " +
          "SELECT count(*)::int AS n FROM conf_multi",
      );
      assert.equal(result.command, "SELECT");
      assert.deepEqual([...result.rows], [{ n: 2 }]);
      const check = await conn.query("SELECT count(*)::int AS n FROM conf_multi");
      assert.equal(check.rows[0].n, 2);
    });

    it("query() rejects an unknown table with QueryError 42P01 and the session stays usable", async () => {
      const conn = await connect();
      await assert.rejects(conn.query("SELECT * FROM conf_no_such_table"), (err) => {
        assert.ok(err instanceof QueryError, `not a QueryError: ${inspect(err)}`);
        assert.equal(err.code, "42P01");
        assert.match(err.message, /conf_no_such_table/);
        assert.equal(err.position, 15);
        assert.ok(err.cause !== undefined, "the driver's error is kept as cause");
        return true;
      });
      assert.equal(conn.closed, false);
      assert.equal((await conn.query("SELECT 2 AS two")).rows[0].two, 2);
    });

    it("query() rejects a syntax error with QueryError 42601 and a numeric position", async () => {
      const conn = await connect();
      await assert.rejects(conn.query("SELECT 1 FROM WHERE"), (err) => {
        assert.ok(err instanceof QueryError, `not a QueryError: ${inspect(err)}`);
        assert.equal(err.code, "42601");
        assert.equal(err.position, 15);
        return true;
      });
      await assert.rejects(conn.query("SELECT $1::int FROM WHERE", [1]), (err) => {
        assert.ok(err instanceof QueryError);
        assert.equal(err.code, "42601");
        assert.equal(typeof err.position, "number");
        return true;
      });
      assert.equal(conn.closed, false);
    });

    it("query() carries the server's DETAIL and HINT on QueryError", async () => {
      const conn = await connect();
      await conn.query("CREATE TEMP TABLE conf_unique (id int PRIMARY KEY)");
      await conn.query("INSERT INTO conf_unique VALUES (1)");
      await assert.rejects(conn.query("INSERT INTO conf_unique VALUES ($1)", [1]), (err) => {
        assert.ok(err instanceof QueryError, `not a QueryError: ${inspect(err)}`);
        assert.equal(err.code, "23505");
        assert.match(err.detail ?? "", /\(id\)=\(1\) already exists/);
        return true;
      });
      await assert.rejects(conn.query("SELECT conf_no_such_function($1::int)", [1]), (err) => {
        assert.ok(err instanceof QueryError);
        assert.equal(err.code, "42883");
        assert.ok((err.hint ?? "").length > 0, "a hint is present");
        return true;
      });
    });

    it("query() reports COMMIT of an aborted transaction as command ROLLBACK, without throwing", async () => {
      const conn = await connect();
      await conn.query("BEGIN");
      await assert.rejects(conn.query("SELECT 1 / 0"), (err) => {
        assert.ok(err instanceof QueryError);
        assert.equal(err.code, "22012");
        return true;
      });
      await assert.rejects(conn.query("SELECT 1"), (err) => {
        assert.ok(err instanceof QueryError);
        assert.equal(err.code, "25P02");
        return true;
      });
      const commit = await conn.query("COMMIT");
      assert.equal(commit.command, "ROLLBACK");
      assert.equal((await conn.query("SELECT 3 AS three")).rows[0].three, 3);
    });

    it("connect() applies settings as startup parameters that survive RESET ALL", async () => {
      const app = appName();
      const conn = await connect({
        settings: { application_name: app, statement_timeout: "4321", temp_buffers: "16MB" },
      });
      const read = async () =>
        (await conn.query(
          "SELECT current_setting('application_name') AS app," +
            " current_setting('statement_timeout') AS st, current_setting('temp_buffers') AS tb",
        )).rows;
      assert.deepEqual([...await read()], [{ app, st: "4321ms", tb: "16MB" }]);
      await conn.query("SET statement_timeout = 1000");
      await conn.query("RESET ALL");
      assert.deepEqual([...await read()], [{ app, st: "4321ms", tb: "16MB" }]);
      assert.equal((await conn.query("SHOW temp_buffers")).rows[0].temp_buffers, "16MB");
    });

    it("statement_timeout cancels pg_sleep with QueryError 57014 and the session stays usable", async () => {
      const conn = await connect({ settings: { statement_timeout: "200" } });
      const started = performance.now();
      await assert.rejects(conn.query("SELECT pg_sleep(5)"), (err) => {
        assert.ok(err instanceof QueryError, `not a QueryError: ${inspect(err)}`);
        assert.equal(err.code, "57014");
        return true;
      });
      assert.ok(performance.now() - started < 3000);
      assert.equal(conn.closed, false);
      assert.equal((await conn.query("SELECT $1::int AS n", [5])).rows[0].n, 5);
    });

    it("a session terminated while idle: the next query rejects, closed is true, no new session appears", async () => {
      const app = appName();
      const conn = await connect({ settings: { application_name: app } });
      await conn.query("SET search_path TO pg_catalog");
      await terminate(await pidOf(conn));
      await sleep(50);
      await assert.rejects(conn.query("SELECT 1"), (err) => !(err instanceof QueryError));
      assert.equal(conn.closed, true);
      // From now on, one error: a ConnectionError, the same every time.
      const first = await conn.query("SELECT 1").catch((err: unknown) => err);
      assert.ok(first instanceof ConnectionError, inspect(first));
      assert.equal(await conn.query("SELECT 2").catch((err: unknown) => err), first);
      await assert.rejects(
        conn.query("SELECT $1::int", [1]),
        (err) => !(err instanceof QueryError),
      );
      assert.equal(conn.closed, true);
      assert.equal(await waitForSessions(app, 0), 0);
      await sleep(200);
      assert.equal(await sessionsNamed(app), 0, "the driver opened a new session");
    });

    it("a session terminated mid-query: every query in flight rejects, closed is true, no reconnect", async () => {
      const app = appName();
      const conn = await connect({ settings: { application_name: app } });
      const pid = await pidOf(conn);
      const inFlight = [
        conn.query("SELECT pg_sleep(5)"),
        ...Array.from({ length: 20 }, (_, i) => conn.query("SELECT $1::int AS i", [i])),
        conn.query("SELECT 1"),
      ];
      const settled = Promise.allSettled(inFlight);
      await sleep(200);
      const killedAt = performance.now();
      await terminate(pid);
      const outcomes = await settled;
      assert.ok(performance.now() - killedAt < 3000, "the queries settled promptly");
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "rejected");
        assert.ok(!(outcome.reason instanceof QueryError), `a QueryError: ${inspect(outcome)}`);
      }
      assert.equal(conn.closed, true);
      await assert.rejects(conn.query("SELECT 1"));
      assert.equal(await waitForSessions(app, 0), 0);
      await sleep(200);
      assert.equal(await sessionsNamed(app), 0, "the driver opened a new session");
    });

    it("connect() to a port where nothing listens rejects quickly, without the password", async () => {
      const port = await freePort();
      const started = performance.now();
      await assert.rejects(makeDriver().connect(params({ port })), (err) => {
        assertNoSecret(err, server.password);
        assert.ok(err instanceof ConnectionError, inspect(err));
        assert.equal(err.reached, false, inspect(err));
        assert.equal(isLoginRefused(err), false);
        assert.equal(isRetryable(err), true);
        return true;
      });
      assert.ok(performance.now() - started < 2000, "rejected within 2 s");
    });

    it("connect() with a wrong password rejects, and no error text contains the password", async () => {
      const wrong = `wrong-pw-${crypto.randomUUID()}`;
      await assert.rejects(makeDriver().connect(params({ password: wrong })), (err) => {
        assert.ok(err instanceof ConnectionError, inspect(err));
        assertNoSecret(err, wrong);
        assert.equal(err.code, "28P01");
        assert.equal(err.reached, true);
        assert.equal(isLoginRefused(err), true);
        assert.equal(isRetryable(err), false);
        return true;
      });
    });

    it("connect() to a database that does not exist rejects", async () => {
      await assert.rejects(
        makeDriver().connect(params({ database: `conf_no_db_${serial}` })),
        (err) => {
          assert.ok(err instanceof ConnectionError, inspect(err));
          assert.equal(err.code, "3D000");
          assert.equal(isLoginRefused(err), true);
          assert.equal(isRetryable(err), false);
          return true;
        },
      );
    });

    it("connect() as a role that does not exist rejects with a class 28 SQLSTATE, not retryable", async () => {
      await assert.rejects(
        makeDriver().connect(params({ user: `conf_no_role_${serial}` })),
        (err) => {
          assert.ok(err instanceof ConnectionError, inspect(err));
          assert.match(String(err.code), /^28/);
          assert.equal(isLoginRefused(err), true);
          assert.equal(isRetryable(err), false);
          return true;
        },
      );
    });

    it("connect() to a server that never answers rejects after connectTimeoutMs", async () => {
      const sockets: net.Socket[] = [];
      const silent = net.createServer((socket) => void sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as net.AddressInfo).port;
      try {
        const started = performance.now();
        await assert.rejects(
          makeDriver().connect(params({ host: "127.0.0.1", port, connectTimeoutMs: 300 })),
          (err) => err instanceof ConnectionError && isRetryable(err),
        );
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 250 && elapsed < 3000, `rejected after ${elapsed} ms`);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it("parameters holds server_version, in_hot_standby and default_transaction_read_only", async () => {
      const conn = await connect();
      assert.match(conn.parameters.server_version ?? "", /^\d+/);
      assert.equal(conn.parameters.in_hot_standby, "off");
      assert.equal(conn.parameters.default_transaction_read_only, "off");
    });

    it("parameters follows a change the server reports", async () => {
      const conn = await connect();
      await conn.query("SET default_transaction_read_only = on");
      assert.equal(conn.parameters.default_transaction_read_only, "on");
      await conn.query("RESET default_transaction_read_only");
      assert.equal(conn.parameters.default_transaction_read_only, "off");
    });

    it("onNotice receives the session's notices", async () => {
      const notices: DriverNotice[] = [];
      const conn = await connect({ onNotice: (n) => void notices.push(n) });
      await conn.query("DO $$ BEGIN RAISE NOTICE 'conformance %', 42; END $$");
      await conn.query("SELECT 1");
      assert.deepEqual(
        notices.map((n) => [n.severity, n.code, n.message]),
        [["NOTICE", "00000", "conformance 42"]],
      );
    });

    it("query() returns rows as a plain Array", async () => {
      const conn = await connect();
      for (
        const result of [
          await conn.query("SELECT 1 AS n"),
          await conn.query("SELECT $1::int AS n", [1]),
        ]
      ) {
        assert.equal(Object.getPrototypeOf(result.rows), Array.prototype);
        assert.deepEqual(result.rows, [{ n: 1 }]);
      }
    });

    it("query() returns NULL elements of text[] and numeric[] as null", async () => {
      const conn = await connect();
      const { rows } = await conn.query(
        "SELECT ARRAY['a', NULL, 'NULL']::text[] AS t, ARRAY[1.5, NULL]::numeric[] AS n",
      );
      assert.deepEqual([...rows[0].t as unknown[]], ["a", null, "NULL"]);
      assert.equal((rows[0].n as unknown[])[1], null);
    });

    it("query() returns the documented value shapes, with and without parameters", async () => {
      const conn = await connect();
      const text = "SELECT 9007199254740993::int8 AS i8, 1.50::numeric AS num, " +
        `'{"a":[1]}'::json AS j, ARRAY[1, 2]::int4[] AS ia, ARRAY[1.5]::float4[] AS fa, ` +
        "ARRAY[1.10, NULL]::numeric[] AS na, '1 day 02:00'::interval AS iv, point(1, 2) AS pt, " +
        "'\\x0102'::bytea AS b, '2020-01-02 03:04:05+00'::timestamptz AS tz, true AS bo, " +
        "1.5::float8 AS f8, '12:00'::time AS t";
      for (const params of [undefined, [1]]) {
        const { rows } = await conn.query(params ? `${text} WHERE $1::int = 1` : text, params);
        const row = rows[0];
        assert.equal(row.i8, "9007199254740993");
        assert.equal(row.num, "1.50");
        assert.deepEqual(row.j, { a: [1] });
        assert.equal(Object.getPrototypeOf(row.ia), Array.prototype);
        assert.deepEqual(row.ia, [1, 2]);
        assert.deepEqual(row.fa, [1.5]);
        assert.deepEqual(row.na, ["1.10", null]);
        assert.equal(row.iv, "1 day 02:00:00");
        assert.equal(row.pt, "(1,2)");
        assert.ok(row.b instanceof Uint8Array);
        assert.deepEqual([...row.b as Uint8Array], [1, 2]);
        assert.ok(row.tz instanceof Date);
        assert.equal((row.tz as Date).toISOString(), "2020-01-02T03:04:05.000Z");
        assert.equal(row.bo, true);
        assert.equal(row.f8, 1.5);
        assert.equal(row.t, "12:00:00");
      }
    });

    it("query() returns infinite dates and timestamps as Infinity and -Infinity", async () => {
      const conn = await connect();
      const { rows } = await conn.query(
        "SELECT 'infinity'::date AS d, '-infinity'::timestamptz AS tz, 'infinity'::timestamp AS ts",
      );
      assert.deepEqual(rows, [{ d: Infinity, tz: -Infinity, ts: Infinity }]);
    });

    it("query() refuses a parameter that cannot be serialised with QueryError, before sending, and the session stays usable", async () => {
      const conn = await connect();
      const circular: Record<string, unknown> = { a: 1 };
      circular.self = circular;
      const throwing = {
        toJSON: () => {
          throw new Error("no JSON for you");
        },
      };
      for (const bad of [circular, throwing, Symbol("s")]) {
        await assert.rejects(conn.query("SELECT $1::jsonb AS j", [bad]), (err) => {
          assert.ok(err instanceof QueryError, inspect(err));
          assert.equal(err.code, undefined);
          return true;
        });
      }
      assert.equal(conn.closed, false);
      assert.deepEqual((await conn.query("SELECT $1::jsonb AS j", [{ a: 1 }])).rows, [{
        j: { a: 1 },
      }]);
    });

    it("query() refuses COPY with QueryError 0A000 before sending, and the session stays usable", async () => {
      const conn = await connect();
      for (
        const text of [
          "COPY (SELECT 1) TO STDOUT",
          "/* c; */ copy pg_class TO STDOUT",
          "SELECT 1; COPY (SELECT 2) TO STDOUT",
        ]
      ) {
        await assert.rejects(
          conn.query(text),
          (err) => err instanceof QueryError && err.code === "0A000",
        );
      }
      assert.deepEqual((await conn.query("SELECT 'copy' AS w")).rows, [{ w: "copy" }]);
      assert.equal(conn.closed, false);
    });

    it("query() carries the server's schema, table, column, constraint and dataType on QueryError", async () => {
      const conn = await connect();
      const table = `conf_fields_${++serial}`;
      await conn.query(`CREATE TEMP TABLE ${table} (id int PRIMARY KEY, v text NOT NULL)`);
      await conn.query(`INSERT INTO ${table} VALUES (1, 'x')`);
      const dup = await conn.query(`INSERT INTO ${table} VALUES (1, 'y')`).catch((e: unknown) => e);
      assert.ok(dup instanceof QueryError, inspect(dup));
      assert.equal(dup.code, "23505");
      assert.equal(dup.table, table);
      assert.equal(dup.constraint, `${table}_pkey`);
      assert.match(String(dup.schema), /^pg_temp/);
      const missing = await conn.query(`INSERT INTO ${table} VALUES (2, NULL)`).catch((
        e: unknown,
      ) => e);
      assert.ok(missing instanceof QueryError);
      assert.equal(missing.column, "v");
      await conn.query("CREATE DOMAIN pg_temp.conf_posint AS int CHECK (VALUE > 0)");
      const domain = await conn.query("SELECT (-1)::pg_temp.conf_posint").catch((e: unknown) => e);
      assert.ok(domain instanceof QueryError);
      assert.equal(domain.dataType, "conf_posint");
    });

    it("connect() with an sslRootCert that is not a PEM certificate rejects with ConnectionError SSL_ROOT_CERT_INVALID", async () => {
      const broken = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
      for (const sslRootCert of ["not a certificate", broken, `${UNRELATED_CA}garbage`]) {
        for (const ssl of ["verify-full", "require"] as const) {
          await assert.rejects(makeDriver().connect(params({ ssl, sslRootCert })), (err) => {
            assert.ok(err instanceof ConnectionError, inspect(err));
            assert.equal(err.code, "SSL_ROOT_CERT_INVALID");
            assert.equal(err.reached, false);
            return true;
          });
        }
      }
    });

    it("close() ends the session, resolves twice, and later queries reject", async () => {
      const app = appName();
      const conn = await connect({ settings: { application_name: app } });
      await conn.query("SELECT 1");
      await conn.close();
      assert.equal(conn.closed, true);
      await conn.close();
      await assert.rejects(conn.query("SELECT 1"));
      assert.equal(await waitForSessions(app, 0), 0);
    });

    it("ssl disable connects in plaintext", async () => {
      const conn = await connect({ ssl: "disable" });
      const { rows } = await conn.query(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
      );
      assert.equal(rows[0].ssl, false);
    });

    it("ssl prefer connects whether or not the server offers TLS", async () => {
      const conn = await connect({ ssl: "prefer" });
      const { rows } = await conn.query(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
      );
      assert.equal(rows[0].ssl, serverHasTls);
    });

    it("ssl require connects over TLS, or rejects when the server has no TLS", async () => {
      if (serverHasTls) {
        const conn = await connect({ ssl: "require" });
        const { rows } = await conn.query(
          "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        );
        assert.equal(rows[0].ssl, true);
      } else {
        await assert.rejects(makeDriver().connect(params({ ssl: "require" })));
      }
    });

    it(
      "ssl verify-full and verify-ca connect over TLS when sslRootCert is the server's CA",
      { skip: rootCertPath ? false : `${ROOT_CERT_VAR} names no CA file for the test server` },
      async () => {
        const sslRootCert = readFileSync(rootCertPath!, "utf8");
        for (const ssl of ["verify-full", "verify-ca"] as const) {
          const conn = await connect({ ssl, sslRootCert });
          const { rows } = await conn.query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
          );
          assert.equal(rows[0].ssl, true, ssl);
        }
      },
    );

    it("ssl verify-full and verify-ca refuse a server that an unrelated CA did not sign", async () => {
      for (const ssl of ["verify-full", "verify-ca"] as const) {
        await assert.rejects(
          makeDriver().connect(params({ ssl, sslRootCert: UNRELATED_CA })),
          (err) => {
            assertNoSecret(err, server.password);
            return true;
          },
          ssl,
        );
      }
    });

    checkGaps();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fails when the secret shows anywhere in the error, its fields or its causes. */
function assertNoSecret(err: unknown, secret: string): void {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e);) {
    seen.add(e);
    const text = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
    assert.ok(!text.includes(secret), `the password shows in: ${text}`);
    e = (e as { cause?: unknown }).cause;
  }
  const rendered = inspect(err, { depth: 6, showHidden: true });
  assert.ok(!rendered.includes(secret), `the password shows in: ${rendered}`);
}
