/**
 * The postgres.js adapter against real PostgreSQL: every shared suite
 * (driver conformance with and without prepared statements, pool, misuse,
 * TLS), each with its declared gaps, plus what is specific to postgres.js.
 * Runs under `deno test` and `bun test`.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import postgres from "postgres";
import type { ConnectParams, DriverConnection } from "../../src/driver.ts";
import { QueryError } from "../../src/errors.ts";
import { postgresjs, type PostgresjsFactory } from "../../src/drivers/postgresjs/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { driverConformance } from "./driver_conformance.ts";
import { poolSuite } from "./pool_suite.ts";
import { misuseSuite } from "./misuse_suite.ts";
import { tlsSuite } from "./tls_suite.ts";

driverConformance("postgresjs", () => postgresjs(), sharedServers);
driverConformance(
  "postgresjs (prepare: false, fetchTypes: false)",
  () => postgresjs({ prepare: false, fetchTypes: false }),
  sharedServers,
  {
    gaps: {
      "query() returns NULL elements of text[] and numeric[] as null":
        "without fetchTypes, arrays come back as their text, as documented",
      "query() returns the documented value shapes, with and without parameters":
        "without fetchTypes, arrays come back as their text, as documented",
    },
  },
);
poolSuite("postgresjs", () => postgresjs());
misuseSuite("postgresjs", () => postgresjs());

describe("postgresjs() specifics", () => {
  let server: TestServer;
  const open: DriverConnection[] = [];
  let serial = 0;

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
    options: Parameters<typeof postgresjs>[0] = {},
    overrides: Partial<ConnectParams> = {},
  ): Promise<DriverConnection> {
    const conn = await postgresjs(options).connect(params(overrides));
    open.push(conn);
    return conn;
  }

  async function sessionsNamed(app: string): Promise<number> {
    for (let i = 0;; i++) {
      const rows = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      const n = rows[0].n as number;
      if (n === 0 || i >= 50) return n;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it("postgresjs() throws TypeError when postgres is not a function", () => {
    assert.throws(
      () => postgresjs({ postgres: 42 as unknown as PostgresjsFactory }),
      TypeError,
    );
  });

  it("postgresjs({ postgres }) uses the factory it is given", async () => {
    let calls = 0;
    const counting = ((options: Parameters<PostgresjsFactory>[0]) => {
      calls++;
      return postgres(options);
    }) as PostgresjsFactory;
    const conn = await connect({ postgres: counting });
    assert.equal((await conn.query("SELECT 1 AS one")).rows[0].one, 1);
    assert.equal(calls, 1);
  });

  it("postgresjs() names the session pgdbpool when settings have no application_name", async () => {
    const conn = await connect();
    const { rows } = await conn.query("SHOW application_name");
    assert.equal(rows[0].application_name, "pgdbpool");
  });

  it("postgresjs() decodes arrays and sends JavaScript arrays with fetchTypes (the default)", async () => {
    const conn = await connect();
    const { rows } = await conn.query("SELECT ARRAY[1, 2]::int[] AS a, $1::int[] AS b", [[3, 4]]);
    assert.deepEqual([...rows], [{ a: [1, 2], b: [3, 4] }]);
  });

  it("postgresjs() gives later sessions of a driver the array types its first session fetched", async () => {
    const driver = postgresjs();
    const first = await driver.connect(params());
    const second = await driver.connect(params());
    open.push(first, second);
    const pid = async (c: DriverConnection) =>
      (await c.query("SELECT pg_backend_pid() AS p")).rows[0].p as number;
    assert.notEqual(await pid(first), await pid(second));
    const { rows } = await second.query("SELECT ARRAY[1, 2]::int[] AS a, $1::text[] AS b", [[
      "x",
      "y",
    ]]);
    assert.deepEqual([...rows], [{ a: [1, 2], b: ["x", "y"] }]);
  });

  it("postgresjs() sends undefined parameters as NULL", async () => {
    const conn = await connect();
    const { rows } = await conn.query("SELECT $1::int IS NULL AS isnull", [undefined]);
    assert.equal(rows[0].isnull, true);
  });

  it("postgresjs() keeps the session after a parameter it cannot serialise, when nothing else is in flight", async () => {
    const conn = await connect();
    await assert.rejects(conn.query("SELECT $1::json AS j", [{ big: 1n }]), QueryError);
    assert.equal(conn.closed, false);
    assert.equal((await conn.query("SELECT 7 AS seven")).rows[0].seven, 7);
  });

  it("postgresjs() refuses an unserialisable parameter before postgres.js sees it, so a pipeline keeps its replies", async () => {
    const conn = await connect();
    // Prepared once, so postgres.js would serialise while building the next
    // run (and then reject the query in flight instead of this one).
    await conn.query("SELECT $1::json AS j", [{ a: 1 }]);
    const [slept, refused, answer] = await Promise.allSettled([
      conn.query("SELECT pg_sleep(0.05)::text AS slept"),
      conn.query("SELECT $1::json AS j", [{ big: 1n }]),
      conn.query("SELECT 42 AS answer"),
    ]);
    assert.equal(slept.status, "fulfilled", inspect(slept));
    assert.equal(refused.status, "rejected");
    assert.ok(refused.reason instanceof QueryError, inspect(refused.reason));
    assert.deepEqual(answer.status === "fulfilled" && answer.value.rows, [{ answer: 42 }]);
    assert.equal(conn.closed, false);
  });

  it("postgresjs() rejects every queued query when the session is lost, beyond postgres.js's pipeline limit", async () => {
    const app = `pgjs_queue_${++serial}_${Date.now() % 100000}`;
    const conn = await connect({}, { settings: { application_name: app } });
    const pid = (await conn.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    // 300 queries: postgres.js sends 100 and queues the rest for the same socket.
    const queries = [
      conn.query("SELECT pg_sleep(5)"),
      ...Array.from({ length: 300 }, (_, i) => conn.query("SELECT $1::int AS i", [i])),
    ];
    const settled = Promise.allSettled(queries);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await adminQuery(server, "SELECT pg_terminate_backend($1)", [pid]);
    const outcomes = await settled;
    assert.ok(outcomes.every((o) => o.status === "rejected"));
    assert.equal(conn.closed, true);
    assert.equal(await sessionsNamed(app), 0, "postgres.js opened a new session");
  });

  it("postgresjs() recovers its prepared statements after DEALLOCATE ALL", async () => {
    const conn = await connect();
    assert.equal((await conn.query("SELECT $1::int AS n", [1])).rows[0].n, 1);
    assert.equal((await conn.query("SELECT 5 AS five")).rows[0].five, 5);
    await conn.query("DEALLOCATE ALL");
    assert.equal((await conn.query("SELECT $1::int AS n", [2])).rows[0].n, 2);
    assert.equal((await conn.query("SELECT 5 AS five")).rows[0].five, 5);
  });

  // PGTARGETSESSIONATTRS is the exception: postgres.js reads it whatever it is given.
  it("postgresjs() ignores PG* and DATABASE_URL environment variables", async () => {
    const env = globalThis.process.env;
    const names = [
      "DATABASE_URL",
      "PGAPPNAME",
      "PGPASSWORD",
      "PGSSLMODE",
      "PGSSLNEGOTIATION",
      "PGCONNECT_TIMEOUT",
      "PGMAX_LIFETIME",
    ];
    const saved = names.map((n) => env[n]);
    Object.assign(env, {
      DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:1/nowhere?sslmode=require",
      PGAPPNAME: "from-env",
      PGPASSWORD: "from-env",
      PGSSLMODE: "require",
      PGSSLNEGOTIATION: "direct",
      PGCONNECT_TIMEOUT: "0.001",
      PGMAX_LIFETIME: "0.001",
    });
    try {
      const conn = await connect();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { rows } = await conn.query("SHOW application_name");
      assert.equal(rows[0].application_name, "pgdbpool");
      assert.equal(conn.closed, false);
    } finally {
      names.forEach((n, i) => saved[i] === undefined ? delete env[n] : (env[n] = saved[i]));
    }
  });
});

// postgres.js runs on every runtime: its file also checks the TLS suite's own servers.
// Last: its servers start while the tests above run.
await tlsSuite("postgresjs", () => postgresjs(), { checkTestServers: true });
