/**
 * The deno-postgres adapter against real PostgreSQL: every shared suite
 * (driver conformance, pool, misuse, TLS), each with its declared gaps, plus
 * what is specific to deno-postgres (it must never reconnect behind the
 * pool's back).
 *
 * deno-postgres lives on JSR, which these machines cannot reach, and this
 * repository imports nothing from JSR. So the test runs only when
 * `PGDBPOOL_DENO_POSTGRES` names a local copy of deno-postgres's `mod.ts`, with
 * an import map that resolves its `@std/*` imports (see the README, "Testing
 * the deno-postgres adapter"):
 *
 * ```sh
 * PGDBPOOL_DENO_POSTGRES=/work/local-deps/postgres/mod.ts \
 *   deno test -A --import-map=/work/local-deps/import_map.json \
 *   tests/integration/driver_deno_postgres_test.ts
 * ```
 *
 * Otherwise (and always under Bun or Node: deno-postgres is Deno-only) it
 * registers skipped tests and says why.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { ConnectParams, DriverConnection } from "../../src/driver.ts";
import { QueryError } from "../../src/errors.ts";
import {
  denoPostgres,
  type DenoPostgresClientConstructor,
} from "../../src/drivers/deno_postgres/mod.ts";
import { driverConformance } from "./driver_conformance.ts";
import { poolSuite } from "./pool_suite.ts";
import { misuseSuite } from "./misuse_suite.ts";
import { tlsSuite } from "./tls_suite.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { loadClient, whyDenoPostgresSkips as whySkip } from "../support/deno_postgres.ts";

const SUITE = "denoPostgres() driver";

const skipReason = whySkip();
if (skipReason !== undefined) {
  console.warn(
    [
      "",
      "=".repeat(78),
      `  SKIPPED: ${SUITE} (tests/integration/driver_deno_postgres_test.ts)`,
      ...wrap(skipReason, 74).map((line) => `  ${line}`),
      "=".repeat(78),
      "",
    ].join("\n"),
  );
  describe(SUITE, () => {
    it("runs against a local copy of deno-postgres", { skip: skipReason }, () => {});
  });
  describe("misuse over deno-postgres against real PostgreSQL", () => {
    it("runs against a local copy of deno-postgres", { skip: skipReason }, () => {});
  });
} else {
  const Client = await loadClient();
  const makeDriver = () => denoPostgres({ Client });

  driverConformance("deno-postgres", makeDriver, sharedServers, {
    gaps: {
      "parameters holds server_version, in_hot_standby and default_transaction_read_only":
        "deno-postgres does not expose ParameterStatus; parameters is {}",
      "parameters follows a change the server reports":
        "deno-postgres does not expose ParameterStatus; parameters is {}",
    },
  });
  poolSuite("deno-postgres", makeDriver, {
    "a backend killed while idle never surfaces to the caller":
      "deno-postgres reads nothing while idle, so a dead session shows only when used; " +
      "the ping after pingAfterIdleMs catches it (next test)",
  });
  misuseSuite("deno-postgres", makeDriver);
  // deno-postgres verifies certificates whatever the mode: prefer and require
  // against an untrusted certificate are tested for what it does instead.
  await tlsSuite("deno-postgres", makeDriver, { unverified: "verifies anyway" });

  describe(`${SUITE}: deno-postgres specifics`, () => {
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

    async function connect(overrides: Partial<ConnectParams> = {}): Promise<DriverConnection> {
      const conn = await makeDriver().connect(params(overrides));
      open.push(conn);
      return conn;
    }

    async function terminate(pid: number): Promise<void> {
      const admin = await connect({ settings: { application_name: "pgdbpool-admin" } });
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await admin.close();
    }

    async function sessionsNamed(name: string): Promise<number> {
      const observer = await connect({ settings: { application_name: "pgdbpool-observer" } });
      const { rows } = await observer.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [name],
      );
      await observer.close();
      return rows[0].n as number;
    }

    async function pidOf(conn: DriverConnection): Promise<number> {
      return (await conn.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    }

    it("denoPostgres() throws TypeError without a Client class", () => {
      assert.throws(
        () => denoPostgres({} as { Client: DenoPostgresClientConstructor }),
        TypeError,
      );
    });

    it("denoPostgres() never reconnects after pg_terminate_backend on an idle session", async () => {
      const name = `dp-idle-${crypto.randomUUID()}`;
      const conn = await connect({ settings: { application_name: name } });
      await terminate(await pidOf(conn));
      await assert.rejects(conn.query("SELECT 1"), (err) => !(err instanceof QueryError));
      assert.equal(conn.closed, true);
      await assert.rejects(conn.query("SELECT 1"));
      assert.equal(conn.closed, true);
      assert.equal(await sessionsNamed(name), 0, "deno-postgres opened a new session");
    });

    it("denoPostgres() never reconnects after pg_terminate_backend during a query", async () => {
      const name = `dp-busy-${crypto.randomUUID()}`;
      const conn = await connect({ settings: { application_name: name } });
      const pid = await pidOf(conn);
      const sleeping = conn.query("SELECT pg_sleep(5)");
      const failed = assert.rejects(sleeping, (err) => !(err instanceof QueryError));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await terminate(pid);
      await failed;
      assert.equal(conn.closed, true);
      await assert.rejects(conn.query("SELECT 1"));
      assert.equal(await sessionsNamed(name), 0, "deno-postgres opened a new session");
    });

    it("denoPostgres() sends settings as startup parameters that survive RESET ALL", async () => {
      const conn = await connect({
        settings: {
          application_name: "dp-settings",
          statement_timeout: "4321",
          temp_buffers: "16MB",
        },
      });
      await conn.query("RESET ALL");
      const { rows } = await conn.query(
        "SELECT current_setting('application_name') AS app," +
          " current_setting('statement_timeout') AS st, current_setting('temp_buffers') AS tb",
      );
      assert.deepEqual(rows, [{ app: "dp-settings", st: "4321ms", tb: "16MB" }]);
    });

    it("denoPostgres() gives the values deno-postgres decodes its own way the shapes of the other adapters", async () => {
      const conn = await connect();
      const text = "SELECT ARRAY[1, NULL, 9007199254740993]::int8[] AS i8a," +
        " 'NaN'::float8 AS nan, '-Infinity'::float8 AS ninf, ARRAY[1.5, NULL]::float8[] AS f8a," +
        " 26::oid AS oid, ARRAY[26]::oid[] AS oida, '5'::xid AS xid, '(1,2)'::tid AS tid," +
        " ARRAY[point(1, 2)] AS pta, box(point(1, 1), point(0, 0)) AS box," +
        " ARRAY[box(point(1, 1), point(0, 0)), box(point(2, 2), point(1, 1))] AS boxa," +
        " circle(point(0, 0), 1) AS circ, lseg(point(0, 0), point(1, 1)) AS lseg," +
        " '((0,0),(1,1))'::path AS path, '((0,0),(1,1),(1,0))'::polygon AS poly," +
        " ARRAY['1 day'::interval, NULL] AS iva, ARRAY[1.5::money] AS ma," +
        " ARRAY[int4range(1, 3)] AS ra, ARRAY['\\x01'::bytea, NULL] AS ba";
      for (const params of [undefined, [1]]) {
        const { rows } = await conn.query(params ? `${text} WHERE $1::int = 1` : text, params);
        assert.deepEqual({ ...rows[0], ba: undefined }, {
          i8a: ["1", null, "9007199254740993"],
          nan: NaN,
          ninf: -Infinity,
          f8a: [1.5, null],
          oid: 26,
          oida: [26],
          xid: "5",
          tid: "(1,2)",
          pta: ["(1,2)"],
          box: "(1,1),(0,0)",
          boxa: ["(1,1),(0,0)", "(2,2),(1,1)"],
          circ: "<(0,0),1>",
          lseg: "[(0,0),(1,1)]",
          path: "((0,0),(1,1))",
          poly: "((0,0),(1,1),(1,0))",
          iva: ["1 day", null],
          ma: ["$1.50"],
          ra: ["[1,3)"],
          ba: undefined,
        });
        const [bytes, none] = rows[0].ba as [Buffer, null];
        assert.ok(Buffer.isBuffer(bytes), "bytea comes back as a Buffer, as on the other adapters");
        assert.deepEqual([...bytes, none], [1, null]);
      }
    });

    it("denoPostgres() gives bytea as a Buffer with bytea_output = escape too", async () => {
      const conn = await connect({ settings: { bytea_output: "escape" } });
      const { rows } = await conn.query("SELECT '\\x005c41ff0a'::bytea AS b");
      assert.ok(Buffer.isBuffer(rows[0].b));
      assert.deepEqual([...rows[0].b as Buffer], [0, 0x5c, 0x41, 0xff, 0x0a]);
    });

    it("denoPostgres() lets controls change the shapes: decoders by oid, decodeStrategy string", async () => {
      const conn = await denoPostgres({ Client, controls: { decoders: { 20: BigInt } } })
        .connect(params());
      open.push(conn);
      const { rows } = await conn.query(
        "SELECT 7::int8 AS i8, ARRAY[8, NULL]::int8[] AS i8a, 1.5::float8 AS f8",
      );
      assert.deepEqual(rows, [{ i8: 7n, i8a: [8n, null], f8: 1.5 }]);
      const raw = await denoPostgres({ Client, controls: { decodeStrategy: "string" } })
        .connect(params());
      open.push(raw);
      assert.deepEqual((await raw.query("SELECT 1.5::float8 AS f8, 2::int4 AS i4")).rows, [{
        f8: "1.5",
        i4: "2",
      }]);
    });

    it("denoPostgres() rejects a connect to a silent server after connectTimeoutMs", async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const accepted: Deno.Conn[] = [];
      const accepting = (async () => {
        for await (const conn of listener) accepted.push(conn);
      })();
      try {
        const started = performance.now();
        await assert.rejects(
          makeDriver().connect(params({
            host: "127.0.0.1",
            port: listener.addr.port,
            connectTimeoutMs: 300,
          })),
          /timed out after 300 ms/,
        );
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 250 && elapsed < 2000, `rejected after ${elapsed} ms`);
      } finally {
        // Closing the server side ends deno-postgres's pending read.
        for (const conn of accepted) conn.close();
        listener.close();
        await accepting;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
  });
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
