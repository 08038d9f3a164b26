/**
 * `groups.<g>.max_waiting` against a real PostgreSQL, once per driver
 * available on the runtime: with every connection busy and `max_waiting`
 * callers queued, the next `withHandler` and `lease` fail at once with
 * PoolOverloadedError (while the holders still hold: no wait, no timeout),
 * the queued callers are served in FIFO order when connections come back,
 * and a caller is admitted again once the queue has room. The core's own
 * cases on the fake clock are in tests/unit/max_waiting_test.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, type Pool, PoolOverloadedError } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** A call that holds its connection until `release()`. */
function holder(pool: Pool, group: string) {
  const gate = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  const done = pool.withHandler(group, async (db) => {
    await db.query("SELECT 1");
    started.resolve();
    await gate.promise;
  });
  return { started: started.promise, done, release: () => gate.resolve() };
}

function suite(name: string, makeDriver: () => Driver): void {
  describe(`max_waiting over ${name} against real PostgreSQL`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    function makePool(connections: number, maxWaiting: number): Pool {
      const pool = createPool({
        db: endpointOf(server),
        groups: { g: { connection_count: connections, max_waiting: maxWaiting } },
        driver: makeDriver(),
      });
      pools.push(pool);
      return pool;
    }

    before(async () => {
      [server] = await sharedServers();
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    it("past max_waiting, withHandler and lease fail at once with PoolOverloadedError; the queue is served FIFO", async () => {
      const pool = makePool(2, 3);
      const holders = [holder(pool, "g"), holder(pool, "g")];
      await Promise.all(holders.map((h) => h.started));
      const order: number[] = [];
      const queued = [1, 2, 3].map((i) =>
        pool.withHandler("g", async (db) => {
          order.push(i);
          return (await db.query<{ v: number }>("SELECT $1::int AS v", [i])).rows[0].v;
        })
      );
      assert.equal(pool.stats().groups.g.waiting, 3);

      // Both refusals settle while both holders still hold their connections.
      let refusedAt = -1;
      const refused = [
        pool.withHandler("g", (db) => db.query("SELECT 1")),
        pool.lease("g"),
      ].map((p) =>
        p.then(
          () => assert.fail("a caller past max_waiting was admitted"),
          (err: unknown) => {
            refusedAt = pool.stats().groups.g.leased;
            return err;
          },
        )
      );
      const errors = await Promise.all(refused);
      assert.equal(refusedAt, 2, "refused while the connections were still held");
      for (const err of errors) {
        assert.ok(err instanceof PoolOverloadedError, String(err));
        assert.equal(err.group, "g");
        assert.equal(err.maxWaiting, 3);
        assert.match(err.message, /max_waiting 3/);
        assert.doesNotMatch(err.message, new RegExp(server.password));
      }
      assert.equal(pool.stats().groups.g.rejected, 2);
      assert.equal(pool.stats().groups.g.waiting, 3, "the refused callers never queued");

      for (const h of holders) h.release();
      await Promise.all(holders.map((h) => h.done));
      assert.deepEqual(await Promise.all(queued), [1, 2, 3]);
      assert.deepEqual(order, [1, 2, 3], "served in the order they queued");

      // Room again: a caller is admitted and served.
      const v = await pool.withHandler(
        "g",
        async (db) => (await db.query("SELECT 7 AS v")).rows[0],
      );
      assert.deepEqual(v, { v: 7 });
      assert.equal(pool.stats().groups.g.leased, 0);
    });

    it("max_waiting 0: a caller waits for nothing, yet an idle connection still serves it", async () => {
      const pool = makePool(1, 0);
      const h = holder(pool, "g");
      await h.started;
      await assert.rejects(
        pool.withHandler("g", (db) => db.query("SELECT 1")),
        PoolOverloadedError,
      );
      h.release();
      await h.done;
      const r = await pool.withHandler("g", (db) => db.query("SELECT 1 AS one"));
      assert.deepEqual(r.rows, [{ one: 1 }]);
      assert.equal(pool.stats().groups.g.rejected, 1);
    });
  });
}

suite("postgresjs", () => postgresjs());
suite("nodePostgres", () => nodePostgres());
if (isBun) suite("bunSql", () => bunSql());
