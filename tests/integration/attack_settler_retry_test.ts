/**
 * node-postgres prepares statements by name and runs one again when the
 * server forgot it or its plan went stale; the retry must settle the reply
 * once, under concurrency too: many queries of the same text queued on one
 * session when the table under them changes (0A000, "cached plan must not
 * change result type") or a function deallocates every statement behind the
 * adapter's back (26000). Exclusive and pipelined groups; node-postgres
 * only, under every runtime.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, QueryError } from "../../mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { withoutEscapes } from "../support/escapes.ts";

describe("node-postgres: a stale statement run again under concurrency settles once", () => {
  const tag = `attack_settler_retry_${Date.now() % 100000}`;
  let tables = 0;
  const scope = serverScope({
    async setUp(server) {
      await adminQuery(
        server,
        `CREATE OR REPLACE FUNCTION ${tag}_forget() RETURNS int LANGUAGE plpgsql AS
           $f$ BEGIN EXECUTE 'DEALLOCATE ALL'; RETURN 1; END $f$`,
      );
    },
    async tearDown(server) {
      for (let i = 1; i <= tables; i++) {
        await adminQuery(server, `DROP TABLE IF EXISTS ${tag}_${i}`);
      }
      await adminQuery(server, `DROP FUNCTION IF EXISTS ${tag}_forget()`);
    },
  });

  const makePool = (group: Record<string, unknown>) => {
    const pool = scope.keep(createPool({
      db: endpointOf(scope.server),
      groups: { g: { connection_count: 1, autocommit: true, ...group } },
      driver: nodePostgres(),
      pingAfterIdleMs: 60_000,
    }));
    return pool;
  };
  const makeTable = async () => {
    const table = `${tag}_${++tables}`;
    await adminQuery(scope.server, `CREATE TABLE ${table} (id int)`);
    await adminQuery(scope.server, `INSERT INTO ${table} SELECT generate_series(1, 5)`);
    return table;
  };

  for (const pipeline of [false, true]) {
    const kind = pipeline ? "pipelined" : "exclusive";

    it(`${kind}: the table changes under 30 queued queries of the same text`, async () => {
      const pool = makePool({ pipeline });
      const table = await makeTable();
      await withoutEscapes(async () => {
        const text = `SELECT * FROM ${table} WHERE id >= $1 ORDER BY id LIMIT 1`;
        const round = () =>
          Promise.all(
            Array.from({ length: 30 }, (_, i) =>
              pool.withHandler("g", async (db) =>
                (await db.query<Record<string, unknown>>(text, [1 + (i % 5)])).rows[0])
                .catch((e) =>
                  e
                )),
          );
        const before = await round();
        assert.deepEqual(before[0], { id: 1 });
        await adminQuery(scope.server, `ALTER TABLE ${table} ADD COLUMN extra int DEFAULT 7`);
        const after = await round();
        const problems = after
          .map((o, i) => [o, i] as const)
          .filter(([o, i]) => JSON.stringify(o) !== JSON.stringify({ id: 1 + (i % 5), extra: 7 }))
          .map(([o, i]) => `${i}: ${inspect(o)}`);
        assert.deepEqual(problems, []);
        assert.equal(pool.stats().groups.g.leased, 0);
      }, 50);
    });

    it(`${kind}: a function deallocates every statement, then 30 queries of known texts`, async () => {
      const pool = makePool({ pipeline });
      const table = await makeTable();
      await withoutEscapes(async () => {
        const texts = [
          `SELECT id FROM ${table} WHERE id = $1`,
          `SELECT id + 0 AS id FROM ${table} WHERE id = $1`,
        ];
        const round = () =>
          Promise.all(
            Array.from({ length: 30 }, (_, i) =>
              pool.withHandler("g", async (db) =>
                (await db.query<{ id: number }>(texts[i % 2], [1 + (i % 5)])).rows[0]?.id)
                .catch((e) =>
                  e
                )),
          );
        await round();
        await pool.withHandler("g", (db) => db.query(`SELECT ${tag}_forget()`));
        const after = await round();
        const problems = after
          .map((o, i) => [o, i] as const)
          .filter(([o, i]) => o !== 1 + (i % 5))
          .map(([o, i]) => `${i}: ${inspect(o)}`);
        assert.deepEqual(problems, []);
        assert.equal(pool.stats().groups.g.leased, 0);
      }, 50);
    });
  }

  it("exclusive, one handler: queries in flight when the table changes, each settled once", async () => {
    const pool = makePool({});
    const table = await makeTable();
    await withoutEscapes(async () => {
      const text = `SELECT * FROM ${table} WHERE id = $1`;
      await pool.withHandler("g", (db) => db.query(text, [1]));
      await adminQuery(scope.server, `ALTER TABLE ${table} ADD COLUMN extra int DEFAULT 8`);
      const rows = await pool.withHandler("g", (db) =>
        Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            db.query(text, [1 + (i % 5)]).then((r) => r.rows[0], (e) => e)),
        ));
      rows.forEach((r, i) => assert.deepEqual(r, { id: 1 + (i % 5), extra: 8 }, inspect(r)));
      assert.equal(pool.stats().groups.g.leased, 0, "released at once: nothing left busy");
    }, 50);
  });

  it("transactional: no retry inside a transaction; the stale plan reaches fn as QueryError", async () => {
    const pool = makePool({ autocommit: false });
    const table = await makeTable();
    const text = `SELECT * FROM ${table} WHERE id = $1`;
    await pool.withHandler("g", (db) => db.query(text, [1]));
    await adminQuery(scope.server, `ALTER TABLE ${table} ADD COLUMN extra int DEFAULT 9`);
    const seen = await pool.withHandler("g", async (db) => {
      const got = await db.query(text, [2]).then((r) => r.rows[0], (e) => e);
      return got;
    }).catch((e) => e);
    // Either the adapter ran it again before the transaction broke, or fn saw a typed error.
    assert.ok(
      JSON.stringify(seen) === JSON.stringify({ id: 2, extra: 9 }) || seen instanceof QueryError,
      inspect(seen),
    );
    const after = await pool.withHandler("g", async (db) => (await db.query(text, [3])).rows[0]);
    assert.deepEqual(after, { id: 3, extra: 9 });
  });
});
