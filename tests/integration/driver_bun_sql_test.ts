/**
 * The Bun.SQL adapter against real PostgreSQL: every shared suite (driver
 * conformance with and without prepared statements, pool, misuse, TLS), each
 * with its declared gaps, plus what is specific to Bun.SQL. Bun.SQL is Bun's
 * built-in: under `deno test` (or Node) this file registers one skipped test
 * per suite that needs a server, says why, and checks only that connecting
 * outside Bun fails clearly.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConnectParams, DriverConnection } from "../../src/driver.ts";
import { QueryError } from "../../src/errors.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { driverConformance } from "./driver_conformance.ts";
import { poolSuite } from "./pool_suite.ts";
import { misuseSuite } from "./misuse_suite.ts";
import { tlsSuite } from "./tls_suite.ts";

const onBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

const LOCAL_PARAMS: ConnectParams = {
  host: "127.0.0.1",
  port: 5432,
  database: "app",
  user: "app",
  password: "secret",
  ssl: "disable",
  sslRootCert: undefined,
  connectTimeoutMs: 1000,
  settings: {},
};

if (!onBun) {
  const reason = "Bun.SQL exists only on Bun: run this file with `bun test`";
  console.warn(
    `SKIPPED: bunSql() conformance, pool, misuse, TLS and specifics (driver_bun_sql_test.ts): ${reason}`,
  );
  describe("driver conformance: bun-sql", () => {
    it("runs under Bun only", { skip: reason }, () => {});
  });
  describe("pool over bun-sql", () => {
    it("runs only under Bun (Bun.SQL is Bun's built-in)", { skip: "not running on Bun" }, () => {});
  });
  describe("misuse over bun-sql against real PostgreSQL", () => {
    it("runs only under Bun (Bun.SQL is Bun's built-in)", { skip: "not running on Bun" }, () => {});
  });
  describe("bunSql() outside Bun", () => {
    it("bunSql().connect() rejects, saying Bun.SQL needs Bun", async () => {
      await assert.rejects(bunSql().connect(LOCAL_PARAMS), /only on Bun/);
    });
  });
} else {
  // Bun.SQL exposes neither ParameterStatus values nor notices (Bun 1.4.5).
  const gaps = {
    "parameters holds server_version, in_hot_standby and default_transaction_read_only":
      "Bun.SQL does not expose ParameterStatus; parameters is {}",
    "parameters follows a change the server reports":
      "Bun.SQL does not expose ParameterStatus; parameters is {}",
    "onNotice receives the session's notices": "Bun.SQL has no notice hook",
  };
  driverConformance("bun-sql", () => bunSql(), sharedServers, { gaps });
  driverConformance("bun-sql (prepare: false)", () => bunSql({ prepare: false }), sharedServers, {
    gaps,
  });
  poolSuite("bun-sql", () => bunSql());
  misuseSuite("bun-sql", () => bunSql());
  await tlsSuite("bun-sql", () => bunSql());

  describe("bunSql() specifics", () => {
    let server: TestServer;
    const open: DriverConnection[] = [];

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(open.map((c) => c.close()));
    });

    function params(overrides: Partial<ConnectParams> = {}): ConnectParams {
      return connectParams(server, overrides);
    }

    async function connect(
      prepare = true,
      overrides: Partial<ConnectParams> = {},
    ): Promise<DriverConnection> {
      const conn = await bunSql({ prepare }).connect(params(overrides));
      open.push(conn);
      return conn;
    }

    it("bunSql() names the session pgdbpool when settings have no application_name", async () => {
      const conn = await connect();
      const { rows } = await conn.query("SHOW application_name");
      assert.equal(rows[0].application_name, "pgdbpool");
    });

    it("bunSql() prepares parameterless single statements, and only those", async () => {
      const conn = await connect();
      await conn.query("SELECT 11 AS prepared_probe");
      await conn.query("SELECT 12 AS simple_probe; SELECT 13 AS simple_probe");
      const { rows } = await conn.query("SELECT statement FROM pg_prepared_statements");
      const probes = rows.map((r) => r.statement as string).filter((s) => s.endsWith("_probe"));
      assert.deepEqual(probes, ["SELECT 11 AS prepared_probe"]);
    });

    it("bunSql({ prepare: false }) prepares nothing", async () => {
      const conn = await connect(false);
      await conn.query("SELECT 11 AS n");
      await conn.query("SELECT $1::int AS n", [1]);
      const { rows } = await conn.query("SELECT count(*)::int AS n FROM pg_prepared_statements");
      assert.equal(rows[0].n, 0);
    });

    it("bunSql() sends undefined parameters as NULL", async () => {
      const conn = await connect();
      const { rows } = await conn.query("SELECT $1::int IS NULL AS isnull", [undefined]);
      assert.equal(rows[0].isnull, true);
    });

    it("bunSql() keeps the session after a parameter it cannot serialise, even in a pipeline", async () => {
      const conn = await connect();
      const [slept, bad, after] = await Promise.allSettled([
        conn.query("SELECT 1 AS one FROM pg_sleep(0.05)"),
        conn.query("SELECT $1::json AS j", [{ big: 1n }]),
        conn.query("SELECT 42 AS answer"),
      ]);
      assert.equal(slept.status === "fulfilled" && slept.value.rows[0].one, 1);
      assert.ok(bad.status === "rejected" && bad.reason instanceof QueryError);
      assert.equal(after.status === "fulfilled" && after.value.rows[0].answer, 42);
      assert.equal(conn.closed, false);
    });

    it("bunSql() ignores PG* and DATABASE_URL environment variables", async () => {
      const env = globalThis.process.env;
      const names = ["DATABASE_URL", "PGAPPNAME", "PGPASSWORD", "PGSSLMODE", "PGDATABASE"];
      const saved = names.map((n) => env[n]);
      Object.assign(env, {
        DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/nowhere?sslmode=require",
        PGAPPNAME: "from-env",
        PGPASSWORD: "from-env",
        PGSSLMODE: "require",
        PGDATABASE: "nowhere",
      });
      try {
        const conn = await connect();
        const { rows } = await conn.query(
          "SELECT current_setting('application_name') AS app, current_database() AS db",
        );
        assert.deepEqual([...rows], [{ app: "pgdbpool", db: server.database }]);
      } finally {
        names.forEach((n, i) => saved[i] === undefined ? delete env[n] : (env[n] = saved[i]));
      }
    });

    it("bunSql() closes the instance on a lost session so Bun cannot reconnect it", async () => {
      const app = `bun_lost_${Date.now() % 100000}`;
      const conn = await connect(true, { settings: { application_name: app } });
      const pid = (await conn.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      await adminQuery(server, "SELECT pg_terminate_backend($1)", [pid]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(conn.closed, true);
      await assert.rejects(conn.query("SELECT 1"));
      const rows = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      assert.equal(rows[0].n, 0);
    });
  });
}
