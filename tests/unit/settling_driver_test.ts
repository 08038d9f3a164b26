/**
 * The pool's side of `DriverConnection.settlesReplies`: a statement with
 * nothing to track goes to such a driver with the session's settler, and the
 * reply is counted and translated there, whatever way it ends; statements the
 * handler tracks (BEGIN, the first statement behind it, transaction control)
 * and drivers that do not settle replies get no settler.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  createPool,
  type Driver,
  type DriverConnection,
  type DriverResult,
  QueryError,
  type ReplySettler,
} from "../../mod.ts";

type Outcome = "ok" | "fail" | "throw" | "lose";

/** A connection written against the contract; `next` says how the next query ends. */
class Settling implements DriverConnection {
  readonly settlesReplies: boolean;
  closed = false;
  readonly parameters = {};
  next: Outcome = "ok";
  /** Each query's text and whether it came with a settler. */
  readonly seen: [string, boolean][] = [];
  constructor(settles: boolean) {
    this.settlesReplies = settles;
  }
  query(text: string, _params?: readonly unknown[], settler?: ReplySettler): Promise<DriverResult> {
    this.seen.push([text, settler !== undefined]);
    const outcome = this.next;
    this.next = "ok";
    if (outcome === "throw") throw new Error("refused synchronously");
    const result: DriverResult = { rows: [{ n: 1 }], rowCount: 1, command: text.split(" ")[0] };
    return Promise.resolve().then(() => {
      if (outcome === "ok") return settler ? settler.ok(result) : result;
      if (outcome === "lose") this.closed = true;
      const err = outcome === "lose"
        ? new ConnectionError("the session was lost", "fake:5432", { reached: true })
        : new QueryError("division by zero", { code: "22012" });
      if (settler) settler.failed(err);
      throw err;
    });
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function poolOver(conn: Settling, autocommit = true, pipeline = false) {
  const driver: Driver = { name: "settling", connect: () => Promise.resolve(conn) };
  return createPool({
    db: "postgres://u@fake:5432/db",
    groups: { g: { connection_count: 1, autocommit, pipeline } },
    driver,
  });
}

describe("a driver that settles replies", () => {
  it("gets the settler for plain statements only, and the reply is counted there", async () => {
    const conn = new Settling(true);
    const pool = poolOver(conn);
    const rows = await pool.withHandler("g", async (db) => {
      const r = await db.query("SELECT 1");
      await db.query("BEGIN");
      await db.query("SELECT 2");
      await db.query("COMMIT");
      return r.rows;
    });
    assert.deepEqual(rows, [{ n: 1 }]);
    assert.deepEqual(conn.seen, [["SELECT 1", true], ["BEGIN", false], ["SELECT 2", true], [
      "COMMIT",
      false,
    ]]);
    // Released at once (no query counted in flight), not held for a stray reply.
    assert.deepEqual([pool.stats().groups.g.idle, pool.stats().groups.g.leased], [1, 0]);
    await pool.end();
  });

  it("a transactional group's first statement goes out behind BEGIN, without the settler", async () => {
    const conn = new Settling(true);
    const pool = poolOver(conn, false);
    await pool.withHandler("g", (db) => db.query("SELECT 1"));
    assert.deepEqual(conn.seen, [["BEGIN", false], ["SELECT 1", false], ["COMMIT", false]]);
    await pool.end();
  });

  it("a failure reaches fn as the pool's error; the session serves on", async () => {
    const conn = new Settling(true);
    const pool = poolOver(conn);
    const err = await pool.withHandler("g", async (db) => {
      conn.next = "fail";
      return await db.query("SELECT 1/0").catch((e) => e);
    });
    assert.ok(err instanceof QueryError);
    assert.equal(err.code, "22012");
    assert.deepEqual([pool.stats().groups.g.idle, pool.stats().groups.g.total], [1, 1]);
    await pool.end();
  });

  it("a query the driver throws on synchronously is settled once, as a QueryError", async () => {
    const conn = new Settling(true);
    const pool = poolOver(conn);
    const err = await pool.withHandler("g", async (db) => {
      conn.next = "throw";
      return await db.query("SELECT 1").catch((e) => e);
    });
    assert.ok(err instanceof QueryError, String(err));
    assert.match(err.message, /refused synchronously/);
    assert.deepEqual([pool.stats().groups.g.idle, pool.stats().groups.g.leased], [1, 0]);
    await pool.end();
  });

  it("a lost session reaches fn as a ConnectionError and is not handed out again", async () => {
    const conn = new Settling(true);
    const pool = poolOver(conn);
    const err = await pool.withHandler("g", async (db) => {
      conn.next = "lose";
      return await db.query("SELECT 1").catch((e) => e);
    });
    assert.ok(err instanceof ConnectionError, String(err));
    assert.equal(pool.stats().groups.g.total, 0);
    await pool.end();
  });

  it("a driver that does not settle replies never gets a settler", async () => {
    const conn = new Settling(false);
    const pool = poolOver(conn);
    await pool.withHandler("g", async (db) => {
      await db.query("SELECT 1");
      conn.next = "fail";
      await assert.rejects(db.query("SELECT 1/0"), QueryError);
    });
    assert.deepEqual(conn.seen.map(([, s]) => s), [false, false]);
    await pool.end();
  });

  it("a pipelined group settles through its session's settler, every way a reply ends", async () => {
    const conn = new Settling(true);
    const pool = poolOver(conn, true, true);
    const seen = await pool.withHandler("g", async (db) => {
      const out: unknown[] = [(await db.query("SELECT 1")).rows];
      for (const next of ["fail", "throw", "lose"] as const) {
        conn.next = next;
        out.push(await db.query("SELECT 1").catch((e) => e));
      }
      return out;
    });
    assert.deepEqual(seen[0], [{ n: 1 }]);
    assert.ok(seen[1] instanceof QueryError && seen[1].code === "22012", String(seen[1]));
    assert.ok(seen[2] instanceof QueryError && /synchronously/.test(seen[2].message));
    assert.ok(seen[3] instanceof ConnectionError, String(seen[3]));
    assert.deepEqual(conn.seen.map(([, s]) => s), [true, true, true, true]);
    await pool.end();
  });
});
