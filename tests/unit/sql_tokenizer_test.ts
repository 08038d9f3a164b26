import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { tokenize, TokenKind } from "../../src/sql/tokenizer.ts";
import { splitStatements, wordAt } from "../../src/sql/statements.ts";
import { readSql } from "../../src/sql/read_sql.ts";

const values = (text: string) => tokenize(text).tokens.map((t) => t.value);
const leading = (text: string) =>
  splitStatements(tokenize(text).tokens).statements.map((s) => wordAt(s, 0));

describe("tokenize()", () => {
  it("skips comments: -- to \\n, \\r\\n or \\r, and nested /* */", () => {
    assert.deepEqual(values("-- a; b\nBEGIN"), ["begin"]);
    assert.deepEqual(values("-- a; b\r\nBEGIN"), ["begin"]);
    assert.deepEqual(values("-- a; b\rBEGIN"), ["begin"]);
    assert.deepEqual(values("/* a /* b; */ c; */ x"), ["x"]);
    assert.deepEqual(values("1 +-- c\n2"), ["1", "+", "2"]);
    assert.deepEqual(values("a/*x*/b"), ["a", "b"]);
  });

  it("reads strings, E'' strings, U&'' strings, dollar quotes and quoted identifiers", () => {
    const t = tokenize(`'it''s' E'a\\'b' U&'d\\0061' $$x;y$$ $tag$ $$ $tag$ "Be""gin" $1`).tokens;
    assert.deepEqual(t.map((x) => x.kind), [
      TokenKind.String,
      TokenKind.String,
      TokenKind.String,
      TokenKind.String,
      TokenKind.String,
      TokenKind.Ident,
      TokenKind.Other,
    ]);
    assert.deepEqual(t.map((x) => x.value), [
      "it's",
      "a\\'b",
      "d\\0061",
      "x;y",
      " $$ ",
      'Be"gin',
      "$1",
    ]);
  });

  it("folds unquoted words to lower case (ASCII only, as the server does) and keeps $ in them", () => {
    assert.deepEqual(values("BeGiN a$b$ x1"), ["begin", "a$b$", "x1"]);
    assert.deepEqual(values("ROLLBAC\u212A"), ["rollbac\u212A"]);
  });

  it("is unsure when something is left open or cannot be read", () => {
    for (
      const text of [
        "SELECT 'abc",
        "SELECT E'abc\\'",
        'SELECT "abc',
        "SELECT $$abc",
        "SELECT $a$ abc $b$",
        "/* /* */ BEGIN",
        "SELECT \\x",
        "SELECT $ 1",
        'SELECT U&"d\\0061"',
      ]
    ) assert.equal(tokenize(text).unsure, true, text);
    assert.equal(tokenize("SELECT 1 -- open line comment").unsure, false);
  });

  it("notes a backslash in a plain string, and reads it as escape when asked", () => {
    assert.equal(tokenize("SELECT 'a\\'").backslashInString, true);
    assert.equal(tokenize("SELECT E'a\\''").backslashInString, false);
    assert.deepEqual(tokenize("SELECT 'a\\'b'", true).tokens.map((t) => t.value), [
      "select",
      "a\\'b",
    ]);
  });
});

describe("splitStatements()", () => {
  it("splits on ; outside comments, strings, identifiers and parentheses", () => {
    assert.deepEqual(leading("/* a; b */ SELECT ';'; -- ;\n BEGIN; ;"), ["select", "begin"]);
    assert.deepEqual(leading(`SELECT 1 AS "a;b"; COMMIT`), ["select", "commit"]);
    assert.deepEqual(leading("SELECT $q$;$q$; SET x = 1"), ["select", "set"]);
  });

  it("keeps a BEGIN ATOMIC body in its CREATE FUNCTION", () => {
    assert.deepEqual(
      leading(
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; COMMIT",
      ),
      ["create", "commit"],
    );
  });

  it("is unsure when parentheses or an atomic body do not balance", () => {
    assert.equal(splitStatements(tokenize("SELECT (1; BEGIN").tokens).unsure, true);
    assert.equal(splitStatements(tokenize("SELECT 1); BEGIN").tokens).unsure, true);
    assert.equal(
      splitStatements(tokenize("CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1;").tokens).unsure,
      true,
    );
  });
});

describe("reading any text (fast-check)", () => {
  it("never throws, whatever the text, and a very long word is fine", () => {
    const sqlish = fc.array(
      fc.oneof(
        fc.string(),
        fc.constantFrom("'", '"', "$$", "$a$", "/*", "*/", "--", "\n", "E'", "U&", "\\", ";", "é"),
      ),
      { maxLength: 20 },
    ).map((parts) => parts.join(""));
    fc.assert(
      fc.property(sqlish, (text) => {
        tokenize(text);
        tokenize(text, true);
        readSql(text);
      }),
      { numRuns: 2000 },
    );
    const long = "SELECT é" + "A".repeat(200_000) + "; BEGIN";
    assert.equal(readSql(long).controls, true);
  });
});
