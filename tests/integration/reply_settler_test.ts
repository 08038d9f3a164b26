/**
 * The settler contract of `DriverConnection.query` (`src/driver.ts`): a
 * connection whose `settlesReplies` is `true` passes every reply through the
 * pool's settler exactly once, success or failure, refusals and lost
 * sessions included, and its promise settles with what the settler returned
 * or threw. The pool counts a reply as answered only there: a reply never
 * settled would hold the session at release, one settled twice would hand it
 * out while a query still runs. Runs under `deno test` and `bun test`
 * (Bun.SQL on Bun only).
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { DriverConnection, DriverResult, ReplySettler } from "../../src/driver.ts";
import { ConnectionError, QueryError } from "../../src/errors.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

/** A settler that counts its calls and marks what it hands back. */
class CountingSettler implements ReplySettler {
  oks = 0;
  fails = 0;
  seen: unknown = undefined;
  readonly result = { rows: [], rowCount: -1, command: "MARKED" } as DriverResult;
  readonly error = new Error("settled by the pool");
  ok = (result: DriverResult): DriverResult => {
    this.oks++;
    this.seen = result;
    return this.result;
  };
  failed = (err: unknown): never => {
    this.fails++;
    this.seen = err;
    throw this.error;
  };
}

/** Runs one query with a fresh settler; returns it and how the query settled. */
async function settled(
  conn: DriverConnection,
  text: string,
  params?: readonly unknown[],
): Promise<{ s: CountingSettler; value?: unknown; error?: unknown }> {
  const s = new CountingSettler();
  try {
    const value = await conn.query(text, params, s);
    return { s, value };
  } catch (error) {
    return { s, error };
  } finally {
    // A second settle would come on a later turn: let it show before counting.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const { name, make } of drivers) {
  describe(`${name}: a reply passes through the settler exactly once`, () => {
    let server: TestServer;
    let conn: DriverConnection;
    before(async () => {
      server = (await sharedServers())[0];
    });
    const open = async () => {
      conn = await make().connect(connectParams(server));
      return conn;
    };
    after(async () => {
      await conn?.close();
    });

    it("says it settles replies", async () => {
      assert.equal((await open()).settlesReplies, true);
    });

    it("a result: ok once, the query resolves with what ok returned", async () => {
      for (const [text, params] of [["SELECT 1 AS n"], ["SELECT $1::int AS n", [7]]] as const) {
        const { s, value } = await settled(conn, text, params);
        assert.deepEqual([s.oks, s.fails], [1, 0], text);
        assert.equal(value, s.result);
        assert.equal((s.seen as DriverResult).rows.length, 1);
      }
    });

    it("several statements in one text: ok once", async () => {
      const { s, value } = await settled(conn, "SELECT 1; SELECT 2");
      assert.deepEqual([s.oks, s.fails], [1, 0]);
      assert.equal(value, s.result);
    });

    it("a server error: failed once with a QueryError, the query rejects with what failed threw", async () => {
      const { s, error } = await settled(conn, "SELECT 1/0");
      assert.deepEqual([s.oks, s.fails], [0, 1]);
      assert.equal(error, s.error);
      assert.ok(s.seen instanceof QueryError);
      assert.equal((s.seen as QueryError).code, "22012");
    });

    it("refused before anything is sent (COPY, a value that cannot be sent): failed once", async () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (
        const [text, params] of [["COPY t FROM STDIN"], ["SELECT $1::jsonb", [circular]]] as const
      ) {
        const { s, error } = await settled(conn, text, params);
        assert.deepEqual([s.oks, s.fails], [0, 1], text);
        assert.equal(error, s.error);
        assert.ok(s.seen instanceof QueryError, text);
      }
      const after = await settled(conn, "SELECT 1");
      assert.deepEqual([after.s.oks, after.s.fails], [1, 0], "the session still serves");
    });

    it("a prepared statement the server forgot (DEALLOCATE ALL): settled once", async () => {
      await settled(conn, "SELECT $1::int AS n", [1]);
      await settled(conn, "DEALLOCATE ALL");
      const { s } = await settled(conn, "SELECT $1::int AS n", [2]);
      assert.equal(s.oks + s.fails, 1);
    });

    it("the session lost mid-query, then closed: failed once each, with a ConnectionError", async () => {
      const pid = (await conn.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      const running = settled(conn, "SELECT pg_sleep(30)");
      await new Promise((resolve) => setTimeout(resolve, 200));
      await adminQuery(server, `SELECT pg_terminate_backend(${Number(pid)})`);
      const lost = await running;
      assert.deepEqual([lost.s.oks, lost.s.fails], [0, 1]);
      assert.equal(lost.error, lost.s.error);
      assert.ok(lost.s.seen instanceof ConnectionError, String(lost.s.seen));
      const later = await settled(conn, "SELECT 1");
      assert.deepEqual([later.s.oks, later.s.fails], [0, 1]);
      assert.ok(later.s.seen instanceof ConnectionError);
      await conn.close();
      const closed = await settled(conn, "SELECT 1");
      assert.deepEqual([closed.s.oks, closed.s.fails], [0, 1]);
    });
  });
}
