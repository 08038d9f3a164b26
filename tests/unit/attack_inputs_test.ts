/**
 * Hostile and careless inputs against `paramstyle: "pyformat"` and the
 * `db.sql` tag: each is translated as psycopg2 / the docs say, or refused
 * with a typed error before anything is sent, never sent with values bound
 * to the wrong placeholder.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toNumeric } from "../../src/python/pyformat.ts";
import { buildSql } from "../../src/handler/sql_tag.ts";
import { ConfigError, QueryParamsError } from "../../src/errors.ts";
import { normalizeConfig } from "../../src/config/normalize.ts";
import { readSql } from "../../src/sql/read_sql.ts";
import { createPool, sqlFragment } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

function refused(text: string, params: readonly unknown[] | Record<string, unknown>): string {
  const got = toNumeric(text, params);
  assert.ok(got instanceof QueryParamsError, `expected a QueryParamsError for ${text}`);
  return got.message;
}

describe("pyformat attacks", () => {
  it("a $n of the text's own next to %s is refused, not bound to the first %s value", () => {
    // Else "SELECT $1 + %s" became "SELECT $1 + $1": the user's $1 silently took the %s value.
    assert.match(refused("SELECT $1 + %s", [5]), /\$1/);
    assert.match(refused("SELECT %(a)s, $2", { a: 1 }), /\$2/);
  });

  it("a name that opens a string, quoted name, comment or dollar quote is refused", () => {
    // The tokenizer read past such a name: a %(b)s inside a literal was translated, or a
    // placeholder behind it was left as text.
    for (
      const [text, params] of [
        ["SELECT %(a')s, '%(b)s' -- '", { "a'": 1, b: 2 }],
        ['SELECT %(a")s, "%(b)s" -- "', { 'a"': 1, b: 2 }],
        ["SELECT %(a--b)s + %(c)s", { "a--b": 1, c: 2 }],
        ["SELECT %(a/*b)s + %(c)s */", { "a/*b": 1, c: 2 }],
        ["SELECT %( $$)s, $$%(b)s$$ -- $$", { " $$": 1, b: 2 }],
      ] as const
    ) {
      assert.match(refused(text, params), /name/, text);
    }
  });

  it("a placeholder glued to a digit is refused: %s0 would become $10, another value", () => {
    const ten = Array.from({ length: 10 }, (_, i) => i);
    assert.match(refused("SELECT %s0, %s, %s, %s, %s, %s, %s, %s, %s, %s", ten), /digit/);
    assert.match(refused("SELECT %(a)s1", { a: 1 }), /digit/);
  });

  it("psycopg2's IN %s (a tuple expanded) is refused with the way to write it", () => {
    assert.match(refused("SELECT * FROM t WHERE id IN %s", [[1, 2]]), /ANY\(%s\)/);
    assert.match(refused("SELECT * FROM t WHERE id not in %(ids)s", { ids: [1] }), /ANY/);
    assert.deepEqual(toNumeric("SELECT * FROM t WHERE id IN (%s, %s)", [1, 2]), {
      text: "SELECT * FROM t WHERE id IN ($1, $2)",
      params: [1, 2],
    });
  });

  it("odd but harmless names still work: spaces, unicode", () => {
    assert.deepEqual(toNumeric("SELECT %( a b )s, %(名前)s", { " a b ": 1, "名前": 2 }), {
      text: "SELECT $1, $2",
      params: [1, 2],
    });
  });

  it("an object for a text without placeholders is fine, as in psycopg2", () => {
    assert.deepEqual(toNumeric("SELECT 10 %% 3", {}), { text: "SELECT 10 % 3", params: [] });
  });

  it("the translation cache keeps a bounded number of characters", () => {
    const gc = (globalThis as { gc?: () => void }).gc ??
      (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc.bind(null, true);
    assert.ok(gc, "run with --expose-gc (the test runner does)");
    const heap = () => {
      gc!();
      return (globalThis as { process: { memoryUsage(): { heapUsed: number } } }).process
        .memoryUsage().heapUsed;
    };
    const before = heap();
    const filler = "x".repeat(16_000);
    // Fewer than the cache's 2000 entries, so an entry-count clear does not hide the growth.
    for (let i = 0; i < 1900; i++) toNumeric(`SELECT %s /* ${i} ${filler} */`, [i]);
    const grown = heap() - before;
    // 1900 texts of 16 kB would pin ~30 MB.
    assert.ok(grown < 12 * 1024 * 1024, `the cache holds ${Math.round(grown / 1048576)} MB`);
  });
});

describe("db.sql tag attacks", () => {
  function built(strings: TemplateStringsArray, ...values: unknown[]) {
    return buildSql(strings, values);
  }

  it("a $n written in the template is refused, not bound to the first value", () => {
    assert.throws(() => built`SELECT * FROM t WHERE a = $1 AND b = ${"x"}`, TypeError);
    const where = sqlFragment`a = $1 AND b = ${"x"}`;
    assert.throws(() => built`SELECT * FROM t WHERE ${where}`, TypeError);
  });

  it("a value glued to a digit is refused: ${a}0 would become $10, another value", () => {
    const v = Array.from({ length: 10 }, (_, i) => i);
    assert.throws(
      () =>
        built`SELECT ${v[0]}0, ${v[1]}, ${v[2]}, ${v[3]}, ${v[4]}, ${v[5]}, ${v[6]}, ${v[7]}, ${
          v[8]
        }, ${v[9]}`,
      TypeError,
    );
  });

  it("a value inside a quoted string or a comment is refused: it would not be a parameter", () => {
    assert.throws(() => built`SELECT '${"x"}'`, /string|comment/);
    assert.throws(() => built`SELECT 1 -- ${"x"}`, /string|comment/);
  });

  it("a fragment used twice gets new numbers each time", () => {
    const f = sqlFragment`a = ${1}`;
    assert.deepEqual(built`SELECT ${f} OR ${f}`, {
      text: "SELECT a = $1 OR a = $2",
      params: [1, 1],
    });
  });
});

describe("db.sql taken off its handler", () => {
  for (const [pipeline, retry] of [[false, 0], [true, 0], [false, 1]] as const) {
    for (const paramstyle of ["numeric", "pyformat"] as const) {
      it(`rejects with a TypeError, never throws (pipeline: ${pipeline}, retry: ${retry}, ${paramstyle})`, async () => {
        const pool = createPool({
          db: { host: "h" },
          groups: {
            default: { connection_count: 1, pipeline, paramstyle, retry, autocommit: retry === 0 },
          },
          driver: new FakeDriver(),
        });
        try {
          await pool.withHandler("default", async (db) => {
            const { sql } = db; // a destructured method loses its handler
            let pending: Promise<unknown> | undefined;
            assert.doesNotThrow(() => pending = sql`SELECT ${1}`);
            await assert.rejects(pending!, TypeError);
            const plain = sql as unknown as (text: string) => Promise<unknown>;
            assert.doesNotThrow(() => pending = plain("SELECT 1"));
            await assert.rejects(pending!, TypeError);
          });
        } finally {
          await pool.end();
        }
      });
    }
  }
});

describe("sqlprepare with a reset that drops every prepared statement", () => {
  it("is a ConfigError naming the reset: the next lease would find none of them", () => {
    for (const reset of ["DISCARD ALL", "discard all;", "SELECT 1; DEALLOCATE PREPARE ALL"]) {
      assert.throws(
        () =>
          normalizeConfig({
            db: { host: "h" },
            groups: { py: { connection_count: 1, sqlprepare: true, reset } },
          }),
        (err: unknown) =>
          err instanceof ConfigError && /groups\.py\.reset/.test(err.message) &&
          /sqlprepare/.test(err.message),
        reset,
      );
    }
  });

  it("a reset that names them only in a string or comment is fine", () => {
    const config = normalizeConfig({
      db: { host: "h" },
      groups: { py: { connection_count: 1, sqlprepare: true, reset: "SELECT 'DISCARD ALL'" } },
    });
    assert.equal(config.groups.py.reset, "SELECT 'DISCARD ALL'");
  });
});

describe("temp tables that end with their transaction", () => {
  it("CREATE TEMP TABLE … ON COMMIT DROP changes no session state (a pooler may run it)", () => {
    assert.equal(readSql("CREATE TEMP TABLE stage (a int) ON COMMIT DROP").changes, 0);
    assert.equal(readSql("create temporary table s on commit drop as select 1 as a").changes, 0);
  });

  it("other temp tables still do", () => {
    assert.notEqual(readSql("CREATE TEMP TABLE t (a int) ON COMMIT DELETE ROWS").changes, 0);
    assert.notEqual(readSql("CREATE TEMP TABLE t (a int)").changes, 0);
    assert.notEqual(readSql("SELECT 1 INTO TEMP t").changes, 0);
  });
});
