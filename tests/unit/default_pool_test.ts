import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, defaultPool, end, init, PoolClosedError, withHandler } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const SECRET = "s3cr3t-Pa55word";

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
});

describe("the default pool after end()", () => {
  /** Sets an environment variable for the span of `fn`, then restores it. */
  async function withEnv(name: string, value: string, fn: () => Promise<void>): Promise<void> {
    const g = globalThis as {
      Deno?: {
        env: {
          get(n: string): string | undefined;
          set(n: string, v: string): void;
          delete(n: string): void;
        };
      };
      process?: { env: Record<string, string | undefined> };
    };
    const before = g.Deno ? g.Deno.env.get(name) : g.process!.env[name];
    const put = (v: string | undefined) => {
      if (g.Deno) v === undefined ? g.Deno.env.delete(name) : g.Deno.env.set(name, v);
      else if (v === undefined) delete g.process!.env[name];
      else g.process!.env[name] = v;
    };
    put(value);
    try {
      await fn();
    } finally {
      put(before);
    }
  }

  it("withHandler() rejects with PoolClosedError after end(), even with DATABASE_URL set", async () => {
    const driver = new FakeDriver();
    init({ db: { host: "h" }, groups: { default: { connection_count: 1 } }, driver });
    await withHandler("default", () => 1);
    await end();
    // A port nothing listens on: a pool built from it would fail, not with PoolClosedError.
    await withEnv("DATABASE_URL", "postgres://u@127.0.0.1:1/other", async () => {
      await assert.rejects(withHandler("default", () => 1), PoolClosedError);
      assert.throws(() => defaultPool(), PoolClosedError);
      await assert.rejects(withHandler("default", () => 1), PoolClosedError);
    });
    assert.equal(driver.sessions.length, 1, "no session opened after end()");
  });

  it("end() without init() also closes the top-level API until init()", async () => {
    await end();
    await assert.rejects(withHandler("default", () => 1), PoolClosedError);
    await end(); // twice is fine
    const driver = new FakeDriver();
    init({ db: { host: "h" }, groups: { default: { connection_count: 1 } }, driver });
    assert.equal(await withHandler("default", () => 7), 7);
    await end();
  });

  it("init() after end() serves again", async () => {
    const first = new FakeDriver();
    init({ db: { host: "h" }, groups: { default: { connection_count: 1 } }, driver: first });
    await end();
    const second = new FakeDriver();
    const pool = init({
      db: { host: "h" },
      groups: { default: { connection_count: 1 } },
      driver: second,
    });
    assert.equal(defaultPool(), pool);
    assert.equal(
      await withHandler("default", async (db) => (await db.query("SELECT 1")).rowCount),
      1,
    );
    assert.equal(second.sessions.length, 1);
    await end();
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
