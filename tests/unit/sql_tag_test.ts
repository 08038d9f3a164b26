import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPool,
  type Handler,
  HandlerReleasedError,
  SqlFragment,
  sqlFragment,
} from "../../mod.ts";
import { buildSql } from "../../src/handler/sql_tag.ts";
import { FakeDriver } from "../support/fake_driver.ts";

function built(strings: TemplateStringsArray, ...values: unknown[]) {
  return buildSql(strings, values);
}

describe("buildSql() (the db.sql tag)", () => {
  it("numbers each value $1..$n and keeps values out of the text", () => {
    const evil = "'; DROP TABLE users; --";
    const b = built`SELECT * FROM t WHERE a = ${1} AND b = ${evil} OR c = ${null}`;
    assert.equal(b.text, "SELECT * FROM t WHERE a = $1 AND b = $2 OR c = $3");
    assert.deepEqual(b.params, [1, evil, null]);
    assert.ok(!b.text.includes("DROP"));
  });

  it("sends a template without values as it is, with no params", () => {
    assert.deepEqual(built`SELECT 1`, { text: "SELECT 1", params: [] });
  });

  it("passes an array as one parameter", () => {
    const ids = [1, 2, 3];
    const b = built`SELECT * FROM t WHERE id = ANY(${ids})`;
    assert.equal(b.text, "SELECT * FROM t WHERE id = ANY($1)");
    assert.deepEqual(b.params, [[1, 2, 3]]);
  });

  it("inlines fragments, nested too, renumbering their values", () => {
    const inner = sqlFragment`c = ${"x'; --"}`;
    const where = sqlFragment`a = ${1} AND ${inner}`;
    const b = built`SELECT ${"s"}::text FROM t WHERE ${where} LIMIT ${5}`;
    assert.equal(b.text, "SELECT $1::text FROM t WHERE a = $2 AND c = $3 LIMIT $4");
    assert.deepEqual(b.params, ["s", 1, "x'; --", 5]);
    assert.ok(where instanceof SqlFragment);
  });

  it("builds the same text each time one call site runs with new values", () => {
    const run = (v: unknown) => built`SELECT ${v}::int`;
    assert.equal(run(1).text, "SELECT $1::int");
    assert.deepEqual(run(2).params, [2]);
  });

  it("throws TypeError when called as a plain function", () => {
    const asFunction = buildSql as unknown as (s: unknown, v: unknown[]) => unknown;
    assert.throws(() => asFunction("SELECT 1", []), (err) => {
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /tagged template/);
      return true;
    });
    const frag = sqlFragment as unknown as (s: unknown) => unknown;
    assert.throws(() => frag(["a"]), TypeError);
  });

  it("refuses a fragment nested into itself instead of recursing for ever", () => {
    const values: unknown[] = [];
    const loop = new SqlFragment(["(", ")"], values);
    values.push(loop);
    assert.throws(() => built`SELECT ${loop}`, /nested more than 32/);
  });
});

describe("db.sql on a pool's handlers (fake driver)", () => {
  for (const pipeline of [false, true]) {
    it(`sends $n text and params like db.query (pipeline: ${pipeline})`, async () => {
      const driver = new FakeDriver();
      const seen: { text: string; params: readonly unknown[] | undefined }[] = [];
      driver.respond = (text, params) => {
        seen.push({ text, params });
        return { rows: [{ value: params?.[0] }], rowCount: 1, command: "SELECT" };
      };
      const pool = createPool({
        db: { host: "h" },
        groups: { default: { connection_count: 1, autocommit: true, pipeline } },
        driver,
      });
      const evil = "1; DROP TABLE users";
      const r = await pool.withHandler(
        "default",
        (db) => db.sql<{ value: string }>`SELECT ${evil}::text AS value`,
      );
      assert.equal(r.rows[0].value, evil);
      const mine = seen.filter((q) => q.text.includes("AS value"));
      assert.deepEqual(mine, [{ text: "SELECT $1::text AS value", params: [evil] }]);
      await pool.end();
    });
  }

  it("rejects (not throws) when called as a plain function, and after release", async () => {
    const pool = createPool({
      db: { host: "h" },
      groups: { default: { connection_count: 1 } },
      driver: new FakeDriver(),
    });
    let kept: Handler | undefined;
    await pool.withHandler("default", async (db) => {
      kept = db;
      const plain = db.sql as unknown as (text: string) => Promise<unknown>;
      const pending = plain("SELECT 1");
      assert.ok(pending instanceof Promise);
      await assert.rejects(pending, TypeError);
    });
    await assert.rejects(kept!.sql`SELECT 1`, HandlerReleasedError);
    await pool.end();
  });
});
