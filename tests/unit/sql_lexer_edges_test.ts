/**
 * Where PostgreSQL's lexer and grammar read SQL otherwise than a quick
 * reading would (issue 9): strings continued on the next line in the same
 * mode, `$` inside names, numbers followed by words, a line comment ended by
 * a lone `\r`, both readings of `standard_conforming_strings`; SQL built at
 * run time (a `DO` block's `EXECUTE`, a computed argument of a function that
 * runs SQL), keyword-like names (`INTO TEMP overriding`, `SET local.x`,
 * `begin atomic` outside a function). The reading of the pool
 * (`readSql()`) and the COPY refusal of the adapters (`copyRefusal()`) are
 * held to each other by a differential property test.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { tokenize, TokenKind, type Tokens } from "../../src/sql/tokenizer.ts";
import { splitStatements, wordAt } from "../../src/sql/statements.ts";
import { analyzeSql, readSql } from "../../src/sql/read_sql.ts";
import { mayMatter } from "../../src/sql/quick_scan.ts";
import { SessionChange as S } from "../../src/sql/session_changes.ts";
import { copyRefusal } from "../../src/drivers/shared/copy_check.ts";

const values = (text: string, backslashQuotes = false) =>
  tokenize(text, backslashQuotes).tokens.map((t) => t.value);
const changes = (text: string) => readSql(text).changes;

describe("tokenize(): lexer edges", () => {
  it("continues a string after a line break and a quote, in the same mode", () => {
    assert.deepEqual(values("SELECT 'a'\n'b'"), ["select", "ab"]);
    assert.deepEqual(values("SELECT 'a' -- c\r  'b'"), ["select", "ab"]);
    assert.deepEqual(values("SELECT 'a'\f\v\n 'b'"), ["select", "ab"]);
    // The E'' string's second part takes backslashes too: \' is a quote, and the string ends
    // before the SET (read as a plain string, the part would hold the SET).
    assert.deepEqual(values("SELECT E'a'\n'\\'' ; SET x = 1; --'"), [
      "select",
      "a\\'",
      ";",
      "set",
      "x",
      "=",
      "1",
      ";",
    ]);
    // No line break, or a block comment, is no continuation.
    assert.deepEqual(values("SELECT 'a' 'b'"), ["select", "a", "b"]);
    assert.deepEqual(values("SELECT 'a'\n/* c */'b'"), ["select", "a", "b"]);
  });

  it("ends a number before letters (1into is 1 and INTO), and keeps $ in names only", () => {
    assert.deepEqual(values("SELECT 1into temp t"), ["select", "1", "into", "temp", "t"]);
    assert.deepEqual(values("SELECT 1e5, 1.5e-3, .5"), ["select", "1e5", ",", "1.5e-3", ",", ".5"]);
    assert.deepEqual(values("SELECT 1$$x$$"), ["select", "1", "x"]);
    assert.deepEqual(values("SELECT 1 AS a$$; COPY"), ["select", "1", "as", "a$$", ";", "copy"]);
  });

  it("reads B'' and X'' strings without backslash escapes, whatever the setting", () => {
    assert.deepEqual(values("SELECT B'\\'", true), ["select", "\\"]);
    assert.deepEqual(values("SELECT x'\\', 1", true), ["select", "\\", ",", "1"]);
  });

  it("says when something is left open, apart from other doubts", () => {
    const open = (t: Tokens) => [t.unsure, t.unclosed];
    assert.deepEqual(open(tokenize("SELECT 'a")), [true, true]);
    assert.deepEqual(open(tokenize("SELECT 1 /* a")), [true, true]);
    assert.deepEqual(open(tokenize("SELECT $a$ x")), [true, true]);
    assert.deepEqual(open(tokenize('SELECT "a')), [true, true]);
    assert.deepEqual(open(tokenize("SELECT \\x")), [true, false]);
    assert.deepEqual(open(tokenize("SELECT 1")), [false, false]);
  });
});

describe("readSql(): SQL built at run time counts as an unknown change", () => {
  it("a DO block that runs SQL built at run time, or a body in another language", () => {
    for (
      const text of [
        "DO $$BEGIN EXECUTE 'SE' || 'T search_path = pg_catalog'; END$$",
        "DO $$BEGIN EXECUTE format('%sT statement_timeout = 5', 'SE'); END$$",
        "DO $$DECLARE q text := 'SET a.b = 1'; BEGIN EXECUTE q; END$$",
        "DO $$BEGIN IF true THEN EXECUTE 'SET a.b = ' || 1; END IF; END$$",
        "DO $$DECLARE r record; BEGIN FOR r IN EXECUTE 'SELE' || 'CT 1' LOOP END LOOP; END$$",
        "DO $$BEGIN PERFORM query_to_xml('SELECT set_' || 'config(''a.b'', ''1'', false)', true, false, ''); END$$",
        "DO LANGUAGE plperl $$ spi_exec_query('SET search_path = x') $$",
        "DO $$ plpy.execute('SET a.b = 1') $$ LANGUAGE plpython3u",
        "DO",
      ]
    ) assert.equal(changes(text) & S.Unknown, S.Unknown, text);
  });

  it("a function that runs SQL given as text, with a computed argument", () => {
    for (
      const text of [
        "SELECT query_to_xml('SELECT set_' || 'config(''a.b'', ''1'', false)', true, false, '')",
        "SELECT query_to_xml($1, true, false, '')",
        "SELECT * FROM ts_stat(format('SELECT %s', 'v'))",
        "SELECT * FROM crosstab($1) AS ct(a int)",
      ]
    ) assert.equal(changes(text) & S.Unknown, S.Unknown, text);
  });

  it("a DO block it can prove harmless stays clean; one whose strings it reads is read", () => {
    for (
      const text of [
        "DO $$ BEGIN UPDATE t SET x = 1; END $$",
        "DO $$BEGIN EXECUTE 'UPDATE t SET x = 1'; END$$",
        "DO $$DECLARE v int; BEGIN EXECUTE 'SELECT 1' INTO v; END$$",
        "DO $$BEGIN EXECUTE 'DELETE FROM t WHERE a = $1' USING 1; END$$",
        "DO LANGUAGE plpgsql $$BEGIN NULL; END$$",
        "DO $$BEGIN NULL; END$$ LANGUAGE 'plpgsql'",
        "SELECT query_to_xml('SELECT 1', true, false, '')",
        "SELECT * FROM ts_stat('SELECT v FROM docs', 'ab'::text)",
      ]
    ) assert.deepEqual([text, changes(text)], [text, 0]);
    assert.equal(changes("DO $$BEGIN EXECUTE 'SET a.b = 1' USING 1; END$$"), S.Settings);
  });

  it("a DO body is read both ways a server may read its strings", () => {
    // With standard_conforming_strings off the SET stands outside the strings.
    const text = "DO $$BEGIN PERFORM 'a\\', '; SET search_path = x; --';\nEND$$";
    assert.equal(changes(text) & S.Settings, S.Settings);
  });
});

describe("readSql(): keyword-like names hide nothing", () => {
  it("SELECT ... INTO TEMP makes a temporary table whatever its name", () => {
    for (
      const text of [
        "SELECT 1 AS a INTO TEMP overriding",
        "SELECT 1 AS a INTO TEMP values",
        "SELECT 1 AS a INTO TEMPORARY using FROM t",
        "SELECT 1 AS a INTO LOCAL TEMP select",
        "SELECT 1into TEMP t",
      ]
    ) assert.equal(changes(text) & S.Temp, S.Temp, text);
    for (
      const text of [
        "INSERT INTO temp OVERRIDING SYSTEM VALUE VALUES (1)",
        "INSERT INTO temp t (a) VALUES (1)",
        "MERGE INTO temp USING s ON true WHEN MATCHED THEN DELETE",
        "CREATE TEMP TABLE t (a int) ON COMMIT DROP",
        "CREATE TEMP TABLE t ON COMMIT DROP AS SELECT 1",
      ]
    ) assert.deepEqual([text, changes(text)], [text, 0]);
  });

  it("SET local.x, SET transaction.x and SET constraints.x name settings of the session", () => {
    for (const text of ["SET local.x = 1", "SET transaction.x TO 1", "set CONSTRAINTS.x = 1"]) {
      assert.equal(changes(text), S.Settings, text);
    }
    assert.equal(changes("SET LOCAL x.y = 1"), 0);
  });

  it("begin atomic outside CREATE FUNCTION is no body: the statements after it are read", () => {
    const text =
      "CREATE VIEW v AS SELECT begin atomic FROM (SELECT 1 AS begin) s; SET search_path = x; END";
    const v = readSql(text);
    assert.equal(v.changes, S.Settings);
    assert.equal(v.controls, true);
  });

  it("a string continued on the next line hides no statement", () => {
    const text = "SELECT E'a'\n'\\'' ; SET search_path = x; --'";
    assert.equal(changes(text) & S.Settings, S.Settings);
    assert.equal(readSql("SELECT E'a'\n'\\'' ; BEGIN; --'").controls, true);
  });
});

describe("copyRefusal(): lexer edges", () => {
  it("finds COPY behind each edge", () => {
    for (
      const text of [
        "-- a comment\rCOPY (SELECT 1) TO STDOUT",
        "SELECT 1 AS a$$; COPY (SELECT 2) TO STDOUT",
        "SELECT 'a\\', '; COPY (SELECT 3) TO STDOUT; --'",
        "SELECT E'a'\n'\\'' ; COPY (SELECT 1) TO STDOUT; --'",
        "SELECT 1e'\\'' ; COPY t TO STDOUT; --'",
        "SELECT B'1'; COPY t TO STDOUT",
        "SELECT 1$$;$$; COPY t TO STDOUT",
      ]
    ) assert.ok(copyRefusal(text) !== undefined, text);
  });

  it("still ignores copy in literals, names and comments", () => {
    for (
      const text of [
        "SELECT 'a'\n'; COPY t TO STDOUT'",
        "SELECT E'\\'; COPY t TO STDOUT'",
        "SELECT copy$x FROM t",
        "SELECT $a$ ; COPY t $a$",
        "SELECT 1 -- \n-- ; COPY t\n",
      ]
    ) assert.equal(copyRefusal(text), undefined, text);
  });
});

// A statement starts with COPY, as the tokenizer reads the text.
function leadsWithCopy(read: Tokens): boolean {
  return splitStatements(read.tokens).statements.some((s) => wordAt(s, 0) === "copy");
}

const FRAGMENTS = [
  "COPY",
  "copy",
  "SELECT",
  " ",
  ";",
  "\n",
  "\r",
  "--",
  "/*",
  "*/",
  "'",
  "''",
  "\\",
  "E",
  "e'",
  "b'",
  "U&'",
  "$$",
  "$a$",
  "a",
  "a$",
  "1",
  "$1",
  '"',
  "(",
  ")",
  "x",
];

describe("copyRefusal() and readSql() agree (fast-check)", () => {
  it("every text whose statement starts with COPY in either reading of the tokenizer is refused", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 14 }), (pieces) => {
        const text = pieces.join("");
        const plain = tokenize(text);
        const other = tokenize(text, true);
        // An unsure reading (a character the server refuses, such as `\`) proves nothing.
        const copies = (!plain.unsure && leadsWithCopy(plain)) ||
          (plain.backslashInString && !other.unsure && leadsWithCopy(other));
        if (copies) assert.ok(copyRefusal(text) !== undefined, JSON.stringify(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it("the quick pre-check stays sound with numbers, exponents and continued strings", () => {
    const fragment = fc.constantFrom(
      ...FRAGMENTS,
      "1e5",
      "e5",
      "temp",
      "into",
      "set",
      "begin",
      "query_to_xml",
      ".",
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (pieces) => {
        const text = pieces.join("");
        if (mayMatter(text)) return;
        const v = analyzeSql(text);
        assert.ok(v.unsure || (!v.controls && v.changes === 0), JSON.stringify(text));
      }),
      { numRuns: 10_000 },
    );
  });

  it("tokens never hold a String for a continued part on its own", () => {
    const read = tokenize("SELECT 'a'\n'b'\n'c', 'd'");
    assert.deepEqual(
      read.tokens.filter((t) => t.kind === TokenKind.String).map((t) => t.value),
      ["abc", "d"],
    );
  });
});
