/**
 * The postgres.js adapter's first connect, against real PostgreSQL: the
 * session that fetches the array types proves itself up with that catalog
 * query alone (no empty probe before it: one round trip less on a cold
 * start); later sessions send only the probe and reuse the types; sessions
 * opened while the fetch is in flight share it; a fetch that failed is tried
 * again by the next session. Every session decodes and sends arrays.
 * Runs under `deno test` and `bun test`.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import type { DriverConnection } from "../../src/driver.ts";
import { ConnectionError } from "../../src/errors.ts";
import { postgresjs, type PostgresjsFactory } from "../../src/drivers/postgresjs/mod.ts";
import { freePort, sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";

/** postgres.js, recording the text of every query each instance is given, in order. */
function recording(): { factory: PostgresjsFactory; sessions: string[][] } {
  const sessions: string[][] = [];
  const factory = ((options: Parameters<PostgresjsFactory>[0]) => {
    const sql = postgres(options);
    const texts: string[] = [];
    sessions.push(texts);
    const unsafe = sql.unsafe.bind(sql);
    sql.unsafe = ((text: string, ...rest: unknown[]) => {
      texts.push(text);
      return (unsafe as (...a: unknown[]) => unknown)(text, ...rest);
    }) as typeof sql.unsafe;
    return sql;
  }) as PostgresjsFactory;
  return { factory, sessions };
}

const isCatalogQuery = (text: string) => text.includes("pg_catalog.pg_type");

async function checkArrays(conn: DriverConnection): Promise<void> {
  const { rows } = await conn.query(
    "SELECT ARRAY[1, 2]::int[] AS a, ARRAY['x', NULL]::text[] AS t, $1::int[] AS b",
    [[3, 4]],
  );
  assert.deepEqual([...rows], [{ a: [1, 2], t: ["x", null], b: [3, 4] }]);
}

describe("postgresjs() first connect: the array-type fetch is the first session's probe", () => {
  let server: TestServer;
  const open: DriverConnection[] = [];

  before(async () => {
    server = (await sharedServers())[0];
  });

  after(async () => {
    await Promise.all(open.map((c) => c.close()));
  });

  async function connect(driver: ReturnType<typeof postgresjs>): Promise<DriverConnection> {
    const conn = await driver.connect(connectParams(server));
    open.push(conn);
    return conn;
  }

  it("the first session sends the catalog query alone; the next sends the empty probe", async () => {
    const { factory, sessions } = recording();
    const driver = postgresjs({ postgres: factory });
    const first = await connect(driver);
    assert.equal(sessions[0].length, 1, `first session's queries: ${sessions[0].join(" | ")}`);
    assert.ok(isCatalogQuery(sessions[0][0]), sessions[0][0]);
    const second = await connect(driver);
    assert.deepEqual(sessions[1], [""], "a later session probes and reuses the types");
    await checkArrays(first);
    await checkArrays(second);
  });

  it("sessions opened while the fetch is in flight share it, and all decode arrays", async () => {
    const { factory, sessions } = recording();
    const driver = postgresjs({ postgres: factory });
    const conns = await Promise.all([connect(driver), connect(driver), connect(driver)]);
    const fetches = sessions.flat().filter(isCatalogQuery).length;
    assert.equal(fetches, 1, `queries: ${JSON.stringify(sessions)}`);
    for (const conn of conns) await checkArrays(conn);
  });

  it("a fetch whose session failed is tried again by the next session", async () => {
    const { factory, sessions } = recording();
    const driver = postgresjs({ postgres: factory });
    const closed = await freePort();
    await assert.rejects(
      driver.connect(connectParams(server, { port: closed, host: "127.0.0.1" })),
      (err) => err instanceof ConnectionError,
    );
    assert.ok(isCatalogQuery(sessions[0][0]), "the failed session was the one fetching");
    const conn = await connect(driver);
    assert.equal(sessions[1].length, 1, `next session's queries: ${sessions[1].join(" | ")}`);
    assert.ok(isCatalogQuery(sessions[1][0]), "the next session fetches again");
    await checkArrays(conn);
  });

  it("without fetchTypes every session sends only the empty probe", async () => {
    const { factory, sessions } = recording();
    const conn = await connect(postgresjs({ postgres: factory, fetchTypes: false }));
    assert.deepEqual(sessions[0], [""]);
    const { rows } = await conn.query("SELECT ARRAY[1, 2]::int[] AS a");
    assert.equal(rows[0].a, "{1,2}");
  });
});
