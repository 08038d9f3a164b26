/**
 * What users send that a settling driver must refuse or settle once: COPY in
 * disguise, parameters that cannot be serialised, several statements in one
 * text (transaction control among them), and an abort signal firing while
 * queries run. One session per pool, so a reply settled twice or never shows
 * as the next caller waiting or sharing a busy session. Every driver of the
 * runtime, exclusive and pipelined groups.
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, QueryError } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { until } from "../support/backend_probe.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { caseBatch } from "../support/case_batch.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());

/** COPY as users hide it: case, comments (nested), odd whitespace, behind another statement. */
const DISGUISED_COPY = [
  "copy (select 1) to stdout",
  "  \n\tCoPy (SELECT 1) TO STDOUT",
  "\fCOPY (SELECT 1) TO STDOUT",
  "\vCOPY (SELECT 1) TO STDOUT",
  "/* a /* nested */ comment */ COPY (SELECT 1) TO STDOUT",
  "-- a comment\r\nCOPY (SELECT 1) TO STDOUT",
  "SELECT 1; COPY (SELECT 1) TO STDOUT",
  "SELECT 'a;b' AS x; /* ; */ COPY (SELECT 1) TO STDOUT",
  "SELECT $$ ; $$ AS x; COPY (SELECT 1) TO STDOUT",
  "COPY (SELECT 1) TO STDOUT; SELECT 1",
];

/** Values no driver can send as what they are. */
function unsendable(): [string, unknown][] {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  return [
    ["a circular object", circular],
    ["a toJSON that throws", {
      toJSON() {
        throw new Error("no JSON for you");
      },
    }],
    ["a symbol", Symbol("s")],
    ["a function", () => 1],
    ["an array holding a circular object", [1, circular]],
  ];
}

for (const { name, make } of drivers) {
  describe(`inputs a settling driver must refuse or settle once, over ${name}`, () => {
    const table = `attack_settler_inputs_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
    const scope = serverScope({
      async setUp(server) {
        await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${table} (id int)`);
      },
      async tearDown(server) {
        await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
      },
    });

    const onePool = (group: Record<string, unknown>, sessions = 1) => {
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server),
        groups: { g: { connection_count: sessions, ...group } },
        driver: make(),
        pingAfterIdleMs: 60_000,
        acquireTimeoutMs: 5_000,
      }));
      return pool;
    };

    /** COPY in disguise, refused typed; the one session serves on. */
    async function copyInDisguise(pipeline: boolean): Promise<void> {
      const pool = onePool({ autocommit: true, pipeline });
      const problems: string[] = [];
      for (const text of DISGUISED_COPY) {
        const got = await pool.withHandler("g", (db) => db.query(text)).catch((e) => e);
        if (!(got instanceof QueryError)) {
          problems.push(`${JSON.stringify(text)}: ${inspect(got)}`);
        }
        // The same single session (or its replacement) answers the next caller at once.
        const n = await pool.withHandler(
          "g",
          async (db) => (await db.query("SELECT 1 AS n")).rows[0].n,
        );
        if (n !== 1) problems.push(`${JSON.stringify(text)}: then ${inspect(n)}`);
      }
      assert.deepEqual(problems, []);
      assert.equal(pool.stats().groups.g.leased, 0);
    }

    /** Parameters that cannot be serialised, alone and among others. */
    async function unserialisableParameters(pipeline: boolean): Promise<void> {
      const pool = onePool({ autocommit: true, pipeline }, 2);
      for (const [what, value] of unsendable()) {
        const got = await pool.withHandler(
          "g",
          (db) => db.query("SELECT $1::jsonb AS v", [value]),
        )
          .catch((e) => e);
        assert.ok(got instanceof QueryError, `${what}: ${inspect(got)}`);
      }
      // Twenty callers at once, every fourth with a value that cannot go out.
      const values = unsendable();
      const outcomes = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            pool.withHandler("g", async (db) =>
              (await db.query<{ v: unknown }>(
                "SELECT $1::text AS v",
                [i % 4 === 1 ? values[i % values.length][1] : String(i)],
              )).rows[0].v).catch((e) => e),
        ),
      );
      outcomes.forEach((o, i) => {
        if (i % 4 === 1) assert.ok(o instanceof QueryError, `${i}: ${inspect(o)}`);
        else assert.equal(o, String(i));
      });
      assert.equal(pool.stats().groups.g.leased, 0);
    }

    /** Callers aborted mid-query. */
    async function abortMidQuery(pipeline: boolean): Promise<void> {
      const pool = onePool({ autocommit: true, pipeline }, 3);
      const reasons: Error[] = [];
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 24; i++) {
        const controller = new AbortController();
        const reason = new Error(`abort ${i}`);
        reasons.push(reason);
        calls.push(
          pool.withHandler(
            "g",
            async (db) => {
              // Both awaited together: a rejection of either is handled.
              const [a, b] = await Promise.all([
                db.query(`SELECT pg_sleep(0.15), ${i} AS n`),
                db.query(`SELECT ${i} AS m`),
              ]);
              return [a.rows[0].n, b.rows[0].m];
            },
            { signal: controller.signal },
          ).catch((e) => e),
        );
        setTimeout(() => controller.abort(reason), 20 + (i % 6) * 40);
      }
      const outcomes = await Promise.all(calls);
      const problems = outcomes
        .map((o, i) => [o, i] as const)
        .filter(([o, i]) => o !== reasons[i] && JSON.stringify(o) !== JSON.stringify([i, i]))
        .map(([o, i]) => `${i}: ${inspect(o)}`);
      assert.deepEqual(problems, []);
      assert.ok(outcomes.some((o, i) => o === reasons[i]), "some aborted");
      // The aborted runs' leases come back once their replies are in (a deadline, not a fixed wait).
      await until(
        () => `leased back to 0 (leased: ${pool.stats().groups.g.leased})`,
        () => pool.stats().groups.g.leased === 0,
        { withinMs: 5_000 },
      );
      assert.equal(pool.stats().groups.g.leased, 0);
      const n = await pool.withHandler(
        "g",
        async (db) => (await db.query("SELECT 9 AS n")).rows[0].n,
      );
      assert.equal(n, 9);
    }

    // These cases run at once, each on its own pool (the aborts' time is their pg_sleep).
    const CASES = [
      ["COPY in disguise is refused typed, the one session serves on", copyInDisguise],
      [
        "parameters that cannot be serialised fail typed, alone and among others",
        unserialisableParameters,
      ],
      [
        "an abort mid-query rejects with the reason, nothing escapes, no session kept",
        abortMidQuery,
      ],
    ] as const;
    const batch = caseBatch(
      [false, true].flatMap((pipeline) =>
        CASES.map(([what, run]) =>
          [`${pipeline ? "pipelined" : "exclusive"}: ${what}`, () => run(pipeline)] as const
        )
      ),
      50,
    );
    after(() => batch.stop());

    for (const pipeline of [false, true]) {
      const kind = pipeline ? "pipelined" : "exclusive";
      for (const [what] of CASES) {
        it(`${kind}: ${what}`, { timeout: 60_000 }, () => batch.check(`${kind}: ${what}`));
      }
    }

    it("exclusive: several statements in one text settle once, the last one's rows", async () => {
      const pool = onePool({ autocommit: true });
      await withoutEscapes(async () => {
        const r = await pool.withHandler("g", (db) => db.query("SELECT 1 AS a; SELECT 2 AS b"));
        assert.deepEqual(r.rows, [{ b: 2 }]);
        const failed = await pool.withHandler("g", (db) => db.query("SELECT 1; SELECT 1/0"))
          .catch((e) => e);
        assert.ok(failed instanceof QueryError && failed.code === "22012", inspect(failed));
        const n = await pool.withHandler(
          "g",
          async (db) => (await db.query("SELECT 3 AS n")).rows[0].n,
        );
        assert.equal(n, 3);
      }, 50);
    });

    it("exclusive autocommit: a transaction opened inside a text and left open is not the next caller's", async () => {
      const pool = onePool({ autocommit: true });
      await pool.withHandler("g", async (db) => {
        await db.query(`BEGIN; INSERT INTO ${table} VALUES (41)`);
      });
      const seen = await pool.withHandler("g", async (db) => {
        const rows = (await db.query(`SELECT id FROM ${table} WHERE id = 41`)).rows;
        const open = (await db.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = pg_backend_pid() AND backend_xid IS NOT NULL",
        )).rows[0].n;
        return { rows, open };
      });
      assert.deepEqual(seen, { rows: [], open: 0 });
      const committed = await adminQuery(scope.server, `SELECT id FROM ${table} WHERE id = 41`);
      assert.deepEqual(committed, []);
    });

    it("transactional: a COMMIT inside a text is tracked, what follows is rolled back on failure", async () => {
      const pool = onePool({ autocommit: false });
      const err = new Error("fn gives up");
      const got = await pool.withHandler("g", async (db) => {
        await db.query(`INSERT INTO ${table} VALUES (51)`);
        await db.query("SELECT 1; COMMIT");
        await db.query(`INSERT INTO ${table} VALUES (52)`);
        throw err;
      }).catch((e) => e);
      assert.equal(got, err);
      const rows = await adminQuery(
        scope.server,
        `SELECT id FROM ${table} WHERE id IN (51, 52) ORDER BY id`,
      );
      assert.deepEqual(rows, [{ id: 51 }]);
    });

    it("transactional: a refused statement does not abort the server's transaction; the run commits", async () => {
      const pool = onePool({ autocommit: false });
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const refusals = await pool.withHandler("g", async (db) => {
        const out = [
          await db.query("COPY (SELECT 1) TO STDOUT").catch((e) => e),
          await db.query("SELECT $1::jsonb", [circular]).catch((e) => e),
        ];
        await db.query(`INSERT INTO ${table} VALUES (61)`);
        return out;
      });
      for (const r of refusals) assert.ok(r instanceof QueryError, inspect(r));
      const rows = await adminQuery(scope.server, `SELECT id FROM ${table} WHERE id = 61`);
      assert.deepEqual(rows, [{ id: 61 }]);
    });
  });
}
