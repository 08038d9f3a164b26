/**
 * The node-postgres adapter against real PostgreSQL: every shared suite
 * (driver conformance with and without prepared statements, pool, misuse,
 * TLS), each with its declared gaps (none today), plus what is specific to
 * node-postgres: its prepared-statement names, the move to fresh
 * names after `DEALLOCATE`, and its recovery when a cached statement no
 * longer matches the server. Runs under `deno test` and `bun test`.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import type { ConnectParams, DriverConnection } from "../../src/driver.ts";
import { QueryError } from "../../src/errors.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { StatementNames } from "../../src/drivers/node_postgres/statement_names.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { driverConformance } from "./driver_conformance.ts";
import { poolSuite } from "./pool_suite.ts";
import { misuseSuite } from "./misuse_suite.ts";
import { tlsSuite } from "./tls_suite.ts";

driverConformance("node-postgres", () => nodePostgres(), sharedServers);
driverConformance(
  "node-postgres (prepare: false)",
  () => nodePostgres({ prepare: false }),
  sharedServers,
);
poolSuite("node-postgres", () => nodePostgres());
misuseSuite("node-postgres", () => nodePostgres());

describe("nodePostgres() specifics", () => {
  let server: TestServer;
  const open: DriverConnection[] = [];
  let serial = 0;

  before(async () => {
    server = (await sharedServers())[0];
  });

  after(async () => {
    await Promise.all(open.map((c) => c.close()));
  });

  async function connect(
    options: Parameters<typeof nodePostgres>[0] = {},
    overrides: Partial<ConnectParams> = {},
  ): Promise<DriverConnection> {
    const conn = await nodePostgres(options).connect(connectParams(server, overrides));
    open.push(conn);
    return conn;
  }

  /** The names of the session's prepared statements, by statement text. */
  async function prepared(conn: DriverConnection): Promise<Record<string, string>> {
    const { rows } = await conn.query("SELECT name, statement FROM pg_prepared_statements");
    return Object.fromEntries(rows.map((r) => [r.statement as string, r.name as string]));
  }

  it("StatementNames gives one stable name per text, and none past its limit", () => {
    const names = new StatementNames(2);
    assert.equal(names.of("SELECT 1"), "pgdbpool_1");
    assert.equal(names.of("SELECT 2"), "pgdbpool_2");
    assert.equal(names.of("SELECT 1"), "pgdbpool_1");
    assert.equal(names.of("SELECT 3"), undefined);
  });

  it("nodePostgres() prepares each text once under its name, shared by the driver's sessions", async () => {
    const driver = nodePostgres();
    const a = await driver.connect(connectParams(server));
    const b = await driver.connect(connectParams(server));
    open.push(a, b);
    const text = `SELECT $1::int + ${++serial} AS n`;
    await a.query(text, [1]);
    await b.query(text, [1]);
    await a.query(text, [2]);
    const onA = await prepared(a);
    const onB = await prepared(b);
    assert.match(onA[text], /^pgdbpool_\d+$/);
    assert.equal(onA[text], onB[text]);
  });

  it("nodePostgres() moves to fresh statement names after DEALLOCATE ALL, and its statements work again", async () => {
    const conn = await connect();
    const text = `SELECT $1::int * ${++serial} AS n`;
    assert.equal((await conn.query(text, [2])).rows[0].n, 2 * serial);
    const before = (await prepared(conn))[text];
    await conn.query("DEALLOCATE ALL");
    assert.equal((await conn.query(text, [3])).rows[0].n, 3 * serial);
    const afterwards = (await prepared(conn))[text];
    assert.notEqual(afterwards, before);
    assert.equal(afterwards, `${before}_1`);
  });

  it("nodePostgres() runs a statement again after its table changed shape (0A000 cached plan)", async () => {
    const conn = await connect();
    const table = `np_shape_${++serial}`;
    await conn.query(`CREATE TEMP TABLE ${table} (a int)`);
    await conn.query(`INSERT INTO ${table} VALUES (1)`);
    const text = `SELECT * FROM ${table}`;
    assert.deepEqual((await conn.query(text)).rows, [{ a: 1 }]);
    await conn.query(`ALTER TABLE ${table} ADD COLUMN b int DEFAULT 2`);
    assert.deepEqual((await conn.query(text)).rows, [{ a: 1, b: 2 }]);
    assert.deepEqual((await conn.query(text)).rows, [{ a: 1, b: 2 }]);
  });

  it("nodePostgres() inside a transaction reports 0A000 once, then the statement works again", async () => {
    const conn = await connect();
    const table = `np_shape_tx_${++serial}`;
    await conn.query(`CREATE TEMP TABLE ${table} (a int)`);
    const text = `SELECT * FROM ${table}`;
    await conn.query(text);
    await conn.query("BEGIN");
    await conn.query(`ALTER TABLE ${table} ADD COLUMN b int`);
    const failed = await conn.query(text).catch((e: unknown) => e);
    // Retrying in the failed transaction could only give 25P02: report it.
    assert.ok(failed instanceof QueryError && failed.code === "0A000", inspect(failed));
    await conn.query("ROLLBACK");
    assert.deepEqual((await conn.query(text)).rows, []);
    assert.equal(conn.closed, false);
  });

  it("nodePostgres() runs a text again after a parameter it refused (no 26000)", async () => {
    const conn = await connect();
    const text = `SELECT $1::jsonb AS j, ${++serial} AS s`;
    await assert.rejects(conn.query(text, [{ a: 1n }]), QueryError);
    assert.deepEqual((await conn.query(text, [{ a: 1 }])).rows[0].j, { a: 1 });
  });

  it("nodePostgres() recovers when its statement was dropped behind its back (26000)", async () => {
    const conn = await connect();
    const text = `SELECT ${++serial} AS s`;
    await conn.query(text);
    const name = (await prepared(conn))[text];
    // A text the adapter does not see as dropping statements.
    await conn.query(`DO $$ BEGIN EXECUTE 'DEALLO' || 'CATE ${name}'; END $$`);
    assert.deepEqual((await conn.query(text)).rows, [{ s: serial }]);
  });
});

// Last: its servers start while the tests above run.
await tlsSuite("node-postgres", () => nodePostgres());
