/**
 * The session's shared run callbacks (`fnDone` / `fnFailed`, kept per
 * session) must end the run of the handler whose `fn` settled, not whoever
 * holds the session by then: `fn` may give its handler back itself
 * (`db.release()`, `await using`) and go on, and the session is the next
 * caller's meanwhile. Over an instant driver, one session.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  createPool,
  type Driver,
  type DriverConnection,
  type DriverResult,
  type ReplySettler,
} from "../../mod.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An instant connection; settles replies through the pool's settler when asked to. */
class Instant implements DriverConnection {
  closed = false;
  readonly parameters = {};
  readonly settlesReplies: boolean;
  constructor(settles: boolean) {
    this.settlesReplies = settles;
  }
  query(text: string, _params?: readonly unknown[], settler?: ReplySettler): Promise<DriverResult> {
    const result: DriverResult = { rows: [{ text }], rowCount: 1, command: "SELECT" };
    return Promise.resolve().then(() => (settler ? settler.ok(result) : result));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function poolOver(settles: boolean, autocommit: boolean) {
  const driver: Driver = { name: "instant", connect: () => Promise.resolve(new Instant(settles)) };
  return createPool({
    db: "postgres://u@fake:5432/db",
    groups: { g: { connection_count: 1, autocommit } },
    driver,
  });
}

for (const settles of [true, false]) {
  for (const autocommit of [true, false]) {
    const label = `${settles ? "settling" : "plain"} driver, ${
      autocommit ? "autocommit" : "transactional"
    }`;
    describe(`fn gives its handler back and goes on (${label})`, () => {
      it("A's fn resolving later does not end B's run", async () => {
        const pool = poolOver(settles, autocommit);
        try {
          const a = pool.withHandler("g", async (db) => {
            await db.query("SELECT 'a'");
            await db.release();
            await sleep(30);
            return "a";
          });
          await sleep(5);
          const b = pool.withHandler("g", async (db) => {
            await sleep(80);
            return (await db.query("SELECT 'b'")).rows[0].text;
          });
          const out = await Promise.allSettled([a, b]);
          assert.deepEqual(
            out.map((r) => r.status === "fulfilled" ? r.value : inspect(r.reason)),
            ["a", "SELECT 'b'"],
          );
          assert.equal(pool.stats().groups.g.leased, 0);
        } finally {
          await pool.end();
        }
      });

      it(
        "A's fn failing later (after await using) does not end B's run",
        async () => {
          const pool = poolOver(settles, autocommit);
          const boom = new Error("A fails after giving its handler back");
          try {
            const a = pool.withHandler("g", async (db) => {
              await db[Symbol.asyncDispose]();
              await sleep(30);
              throw boom;
            });
            await sleep(5);
            const b = pool.withHandler("g", async (db) => {
              await sleep(80);
              return (await db.query("SELECT 'b'")).rows[0].text;
            });
            const out = await Promise.allSettled([a, b]);
            assert.deepEqual(
              out.map((r) => r.status === "fulfilled" ? r.value : r.reason),
              [boom, "SELECT 'b'"],
            );
            assert.equal(pool.stats().groups.g.leased, 0);
          } finally {
            await pool.end();
          }
        },
      );

      it("fn giving its handler back and returning at once: the waiting caller's run is its own", async () => {
        const pool = poolOver(settles, autocommit);
        try {
          const out = await Promise.all([
            pool.withHandler("g", async (db) => {
              await db.query("SELECT 1");
              await db.release();
              return 1;
            }),
            pool.withHandler("g", async (db) => (await db.query("SELECT 2")).rows.length + 1),
          ]);
          assert.deepEqual(out, [1, 2]);
          assert.equal(pool.stats().groups.g.leased, 0);
        } finally {
          await pool.end();
        }
      });
    });
  }
}
