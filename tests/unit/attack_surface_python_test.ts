/**
 * pyformat (`paramstyle: "pyformat"`) and `queryPrepared` fed hostile input:
 * texts with tens of thousands of distinct names, names that are prototype
 * keys, params of the wrong kind (a string, `null`, a `Map`), and the
 * placeholders' neighbours (`%%`, quotes, comments, dollar quotes). Each is a
 * `QueryParamsError` that says what was received, or a correct translation.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { QueryParamsError } from "../../mod.ts";
import { toNumeric } from "../../src/python/pyformat.ts";
import { queryPrepared } from "../../src/python/sqlprepare.ts";

function refused(text: string, params: unknown, message: RegExp): void {
  const out = toNumeric(text, params as never);
  assert.ok(
    out instanceof QueryParamsError,
    `${text}: expected a QueryParamsError, got ${JSON.stringify(out)}`,
  );
  assert.match(out.message, message, text);
}

describe("pyformat with huge texts", () => {
  it(
    "a text of 100000 distinct names is translated in one pass, not one scan of the names per name",
    () => {
      const n = 100_000;
      const names = Array.from({ length: n }, (_, i) => `n${i}`);
      const params = Object.fromEntries(names.map((name, i) => [name, i]));
      const out = toNumeric(`SELECT ${names.map((name) => `%(${name})s`).join(",")}`, params);
      assert.ok(!(out instanceof Error), String(out));
      assert.equal(out.params!.length, n);
      assert.equal(out.params![n - 1], n - 1);
      assert.ok(out.text.endsWith(`$${n}`));
    },
  );

  it("a text of 100000 %s and as many %% is translated whole", () => {
    const n = 100_000;
    const out = toNumeric(`SELECT ${"%s %% ".repeat(n)}`, Array.from({ length: n }, (_, i) => i));
    assert.ok(!(out instanceof Error), String(out));
    assert.equal(
      out.text,
      `SELECT ${Array.from({ length: n }, (_, i) => `$${i + 1} % `).join("")}`,
    );
  });
});

describe("pyformat params of the wrong kind", () => {
  it("the error says what params were: a string, null, a number, a Map, not always 'an object'", () => {
    refused("SELECT %s", "abc", /got a string/);
    refused("SELECT %s", null, /got null/);
    refused("SELECT %s", 5, /got a number/);
    refused("SELECT %s", new Map(), /got a Map/);
    refused("SELECT %s", { 0: 1 }, /got an object/);
    refused("SELECT %(a)s", "a", /got a string/);
    refused("SELECT %(a)s", null, /got null/);
    refused("SELECT %(a)s", new Map([["a", 1]]), /got a Map/);
  });

  it("prototype keys as names: bound when params hold them as own keys, refused when inherited", () => {
    const names = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
    const text = `SELECT ${names.map((n) => `%(${n})s`).join(", ")}`;
    const own = JSON.parse(`{${names.map((n, i) => `"${n}": ${i}`).join(",")}}`);
    const out = toNumeric(text, own);
    assert.ok(!(out instanceof Error), String(out));
    assert.deepEqual(out.params, [0, 1, 2, 3, 4]);
    for (const name of names) refused(`SELECT %(${name})s`, {}, new RegExp(`no param named`));
    const bare = Object.assign(Object.create(null), { a: 1 });
    assert.deepEqual((toNumeric("SELECT %(a)s", bare) as { params: readonly unknown[] }).params, [
      1,
    ]);
  });

  it("names with unicode, spaces and a % are names; an empty name is one too", () => {
    const out = toNumeric("SELECT %(名前)s, %(a b)s, %(50%)s, %()s", {
      名前: 1,
      "a b": 2,
      "50%": 3,
      "": 4,
    });
    assert.ok(!(out instanceof Error), String(out));
    assert.deepEqual(out, { text: "SELECT $1, $2, $3, $4", params: [1, 2, 3, 4] });
  });
});

describe("pyformat around literals", () => {
  it("%% and %s in strings, E-strings, quoted names, comments and dollar quotes", () => {
    const text = [
      "SELECT '%s %%', E'\\'%s', \"%%s\", $tag$%s %% $tag$, $$%(x)s$$ -- %s %(y)s",
      "/* %s /* %% */ */ %s",
    ].join("\n");
    const out = toNumeric(text, [1]);
    assert.ok(!(out instanceof Error), String(out));
    assert.equal(
      out.text,
      [
        "SELECT '%s %', E'\\'%s', \"%s\", $tag$%s % $tag$, $$%(x)s$$ -- %s %(y)s",
        "/* %s /* % */ */ $1",
      ].join("\n"),
    );
  });

  it("a placeholder glued after a name is refused: x%s would become x$1, one name, not x and $1", () => {
    refused("SELECT x%s", [1], /follows a name/);
    refused("SELECT a%(n)s, %(n)s", { n: 1 }, /follows a name/);
    refused("SELECT größe%s", [1], /follows a name/);
    refused("SELECT t_%s", [1], /follows a name/);
    // Operators, brackets, casts and quoted names before it are fine.
    for (const text of ["SELECT a=%s", "SELECT (%s)", "SELECT ARRAY[%s]", 'SELECT "x"||%s']) {
      assert.ok(!(toNumeric(text, [1]) instanceof Error), text);
    }
  });

  it("a % glued to an operator or a number outside literals is refused, naming the offset", () => {
    refused("SELECT 7 %3 , %s", [1], /offset 9/);
    refused("SELECT a %= %s", [1], /no placeholder/);
    refused("SELECT %s%", [1], /no placeholder/);
  });
});

describe("queryPrepared() with request data JSON cannot carry", () => {
  it(
    "a cyclic object or a bigint in the request data is a QueryParamsError naming it, nothing sent",
    async () => {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      let sent = 0;
      const run = () => {
        sent++;
        return Promise.resolve({ rows: [], rowCount: 0, command: "SELECT" });
      };
      for (const data of [cyclic, { n: 1n }, [1n]]) {
        await assert.rejects(
          queryPrepared(run, ["S", "Q", data, ["a"]]),
          (e: unknown) =>
            e instanceof QueryParamsError && /request data|params\[2\]/.test(e.message),
        );
      }
      assert.equal(sent, 0);
    },
  );
});
