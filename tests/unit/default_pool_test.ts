import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, createPool, defaultPool, end, init, withHandler } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const SECRET = "s3cr3t-Pa55word";

function envSet(): boolean {
  const g = globalThis as {
    Deno?: { env: { get(n: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  const get = (n: string) => {
    try {
      return g.Deno ? g.Deno.env.get(n) : g.process?.env[n];
    } catch {
      return undefined;
    }
  };
  return ["DATABASE_URL", "PGHOST", "PGUSER", "PGDATABASE"].some((n) => get(n));
}

describe("init() / withHandler() / end() on the default pool", () => {
  it("withHandler() uses the pool that init() set up, end() closes it", async () => {
    const driver = new FakeDriver();
    init({ db: { host: "h", pass: SECRET }, groups: { default: { connection_count: 2 } }, driver });
    const v = await withHandler(
      "default",
      async (db) => (await db.query("SELECT $1", [5])).rows[0],
    );
    assert.equal((v as { value: number }).value, 5);
    assert.equal(driver.open.size, 1);
    await end();
    assert.equal(driver.open.size, 0);
  });

  it("init() twice ends the previous pool", async () => {
    const first = new FakeDriver();
    init({ db: { host: "h" }, groups: { default: { connection_count: 1 } }, driver: first });
    await withHandler("default", () => 1);
    const second = new FakeDriver();
    init({ db: { host: "h" }, groups: { default: { connection_count: 1 } }, driver: second });
    await withHandler("default", () => 1);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(first.open.size, 0);
    await end();
  });

  it("defaultPool() without init() and without environment throws ConfigError saying what to set", {
    skip: envSet() ? "DATABASE_URL or PG* is set in this environment" : false,
  }, () => {
    assert.throws(
      () => defaultPool(),
      (err) => err instanceof ConfigError && /DATABASE_URL/.test(err.message),
    );
  });
});

describe("secrets", () => {
  it("the password appears in no stats, JSON, string or inspect output of a pool", async () => {
    const driver = new FakeDriver();
    const pool = createPool({
      db: [`postgres://u:${SECRET}@a:5432,b:5433/db`, { host: "c", pass: SECRET }],
      groups: { g: { connection_count: 2 } },
      driver,
    });
    await pool.withHandler("g", () => 1);
    driver.down.add("b:5433");
    const g = globalThis as {
      Deno?: { inspect(v: unknown, o?: object): string };
      Bun?: { inspect(v: unknown): string };
    };
    const inspect = (v: unknown) =>
      g.Deno ? g.Deno.inspect(v, { depth: 10, showHidden: true }) : g.Bun!.inspect(v);
    const views = [
      JSON.stringify(pool.stats()),
      JSON.stringify(pool),
      String(pool),
      inspect(pool),
      inspect(pool.stats()),
    ];
    for (const view of views) assert.ok(!view.includes(SECRET), view);
    // The driver did get it.
    assert.equal(driver.sessions[0].params.password, SECRET);
    await pool.end();
  });
});
