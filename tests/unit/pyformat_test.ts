/**
 * toNumeric(): psycopg2's pyformat placeholders to `$n`, read with the SQL
 * tokenizer so literals, quoted names, comments and dollar quotes keep their `%`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toNumeric } from "../../src/python/pyformat.ts";
import { ConfigError, QueryParamsError } from "../../src/errors.ts";
import { normalizeConfig } from "../../src/config/normalize.ts";

function ok(text: string, params: readonly unknown[] | Record<string, unknown>) {
  const got = toNumeric(text, params);
  if (got instanceof Error) throw got;
  return got;
}

function refused(text: string, params: readonly unknown[] | Record<string, unknown>): string {
  const got = toNumeric(text, params);
  assert.ok(got instanceof QueryParamsError, `expected a QueryParamsError for ${text}`);
  return got.message;
}

describe("toNumeric() with positional %s", () => {
  it("numbers %s placeholders in order and keeps the array", () => {
    const params = [1, "b"];
    assert.deepEqual(ok("SELECT * FROM t WHERE a = %s AND b=%s", params), {
      text: "SELECT * FROM t WHERE a = $1 AND b=$2",
      params,
    });
  });

  it("turns %% into a literal % (the modulo operator)", () => {
    assert.deepEqual(ok("SELECT 10 %% 3, %s", [1]).text, "SELECT 10 % 3, $1");
    assert.deepEqual(ok("SELECT %%s", []).text, "SELECT %s");
  });

  it("turns %% into % inside strings too, as psycopg2 does: the value stored is the one ported code meant", () => {
    assert.equal(
      ok("INSERT INTO t VALUES ('50%% off', %s)", [1]).text,
      "INSERT INTO t VALUES ('50% off', $1)",
    );
    assert.equal(ok("SELECT format('%%s', %s)", ["x"]).text, "SELECT format('%s', $1)");
    assert.equal(ok("SELECT 'a%%b', $$c%%d$$ -- e%%f", []).text, "SELECT 'a%b', $$c%d$$ -- e%f");
    assert.equal(ok("SELECT 'a%%b' LIKE %(p)s", { p: "a%" }).text, "SELECT 'a%b' LIKE $1");
  });

  it("leaves %s inside strings, E'' strings, quoted names, comments and dollar quotes", () => {
    const text = [
      "SELECT '%s', E'it\\'s %s', \"col%s\", $$ %s $$, $tag$ %s $tag$ -- %s",
      "/* %s /* nested %s */ %s */ , %s",
    ].join("\r\n");
    const got = ok(text, [7]);
    assert.equal(got.text, text.replace(/, %s$/, ", $1"));
    assert.deepEqual(got.params, [7]);
  });

  it("reads \\r\\n line ends and odd case around placeholders", () => {
    const got = ok("sElEcT a\r\nFrOm t\r\n-- 100%s off\r\nWHERE a =%s", ["x"]);
    assert.equal(got.text, "sElEcT a\r\nFrOm t\r\n-- 100%s off\r\nWHERE a =$1");
  });

  it("refuses a wrong count before anything is sent, naming both counts", () => {
    assert.match(refused("SELECT %s, %s", [1]), /2 %s placeholder\(s\) but 1 param\(s\)/);
    assert.match(refused("SELECT 1", [1]), /0 %s placeholder\(s\) but 1 param/);
  });

  it("refuses an object where %s needs an array", () => {
    assert.match(refused("SELECT %s", { a: 1 }), /must be an array/);
  });

  it("refuses a % that is no placeholder, and %S (case matters, as in psycopg2)", () => {
    assert.match(refused("SELECT 10 % 3 + %s", [1]), /"% " at offset 10 is no placeholder.*%%/);
    assert.match(refused("SELECT %S", [1]), /"%S"/);
    assert.match(refused("SELECT %d", [1]), /"%d"/);
    assert.match(refused("SELECT 1 %", []), /"%" at offset 9/);
  });

  it("sends the text as written when no params are given (psycopg2 does the same)", () => {
    assert.deepEqual(toNumeric("SELECT 10 % 3", undefined), {
      text: "SELECT 10 % 3",
      params: undefined,
    });
  });
});

describe("toNumeric() with named %(name)s", () => {
  it("gives each name one $n, reused where the name repeats", () => {
    assert.deepEqual(ok("SELECT %(a)s, %(b)s, %(a)s", { b: 2, a: 1, extra: 3 }), {
      text: "SELECT $1, $2, $1",
      params: [1, 2],
    });
  });

  it("keeps %(name)s inside literals and comments as text", () => {
    const got = ok("SELECT '%(a)s' /* %(a)s */, %(a)s", { a: 1 });
    assert.equal(got.text, "SELECT '%(a)s' /* %(a)s */, $1");
  });

  it("refuses a missing name, naming it", () => {
    assert.match(refused("SELECT %(id)s", { ID: 1 }), /no param named "id" for %\(id\)s/);
  });

  it("refuses an array where names are used, and a mix of both kinds", () => {
    assert.match(refused("SELECT %(a)s", [1]), /must be an object by name, got an array/);
    assert.match(refused("SELECT %(a)s, %s", { a: 1 }), /mixes %s and %\(name\)s/);
  });

  it("refuses %( without its closing )s", () => {
    assert.match(refused("SELECT %(a)d", { a: 1 }), /not a %\(name\)s placeholder/);
    assert.match(refused("SELECT %(a", { a: 1 }), /not a %\(name\)s placeholder/);
  });

  it("refuses text it cannot read (an unterminated string), instead of guessing", () => {
    assert.match(refused("SELECT %s, 'open", [1]), /cannot be found/);
  });

  it("translates a text once: the same text gives the same result object's text", () => {
    const a = ok("SELECT %(x)s + %(y)s", { x: 1, y: 2 });
    const b = ok("SELECT %(x)s + %(y)s", { x: 3, y: 4 });
    assert.equal(a.text, b.text);
    assert.deepEqual(b.params, [3, 4]);
  });
});

describe("paramstyle, sqlprepare and on_connect in the config", () => {
  const db = { host: "db1" };

  it("normalizeConfig() takes the pool's paramstyle and on_connect as every group's default", () => {
    const hook = () => {};
    const config = normalizeConfig({
      db,
      paramstyle: "pyformat",
      onConnect: hook,
      groups: {
        a: { connection_count: 1 },
        b: { connection_count: 1, paramstyle: "numeric", on_connect: "SELECT 1", sqlprepare: true },
      },
    });
    assert.deepEqual(
      [config.groups.a.paramstyle, config.groups.a.onConnect, config.groups.a.sqlprepare],
      ["pyformat", hook, false],
    );
    assert.deepEqual(
      [config.groups.b.paramstyle, config.groups.b.onConnect, config.groups.b.sqlprepare],
      ["numeric", "SELECT 1", true],
    );
  });

  it("normalizeConfig() refuses an unknown paramstyle and a sqlprepare that is no boolean", () => {
    assert.throws(
      () => normalizeConfig({ db, paramstyle: "format", groups: { a: { connection_count: 1 } } }),
      (err: unknown) =>
        err instanceof ConfigError && /"paramstyle".*"numeric", "pyformat"/.test(err.message),
    );
    assert.throws(
      () => normalizeConfig({ db, groups: { a: { connection_count: 1, sqlprepare: "yes" } } }),
      /Invalid config "groups\.a\.sqlprepare": expected true or false, got "yes"/,
    );
    assert.throws(
      () =>
        normalizeConfig({
          db,
          groups: { a: { connection_count: 1, on_connect: "A", onConnect: "B" } },
        }),
      /conflicts with its alias/,
    );
  });
});
