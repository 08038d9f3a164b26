/**
 * readSql(): transaction control, transaction effects and session changes,
 * through every disguise the tokenizer must see through; property tests for
 * recall (disguised statements of interest are always seen) and precision
 * (the same words inside comments, strings and identifiers never are).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { analyzeSql, readSql } from "../../src/sql/read_sql.ts";
import { mayMatter } from "../../src/sql/quick_scan.ts";
import { SessionChange as S } from "../../src/sql/session_changes.ts";
import { TxEffect } from "../../src/sql/transaction_effects.ts";
import { disguised, type Part, parts } from "../support/sql_disguise.ts";

const changes = (text: string) => readSql(text).changes;

describe("readSql(): transaction control", () => {
  it("sees it behind every comment form and in any statement of the text", () => {
    for (
      const text of [
        "/* a; b */ BEGIN",
        "-- comment\nBEGIN",
        "-- comment\r\nBEGIN",
        "--\rBEGIN",
        "/* /* nested; */ still; */ BEGIN",
        "SELECT ';'; BEGIN",
        "SELECT $$;$$; bEgIn",
        `SELECT 1 AS "x;y"; START TRANSACTION`,
        "SELECT E'\\';'; COMMIT",
        "select 1;savepoint s",
        "RELEASE s",
        "PREPARE TRANSACTION 'x'",
        "COMMIT PREPARED 'x'",
        "ROLLBACK PREPARED 'x'",
        "abort",
        "end work",
      ]
    ) assert.equal(readSql(text).controls, true, text);
  });

  it("does not see it in strings, dollar quotes, quoted identifiers or function bodies", () => {
    for (
      const text of [
        "SELECT 'BEGIN'",
        "SELECT $$ COMMIT $$",
        "SELECT $t$ ; ROLLBACK ; $t$",
        'SELECT 1 AS "begin"',
        'SELECT "begin" FROM t',
        "SELECT E'it\\'s; BEGIN'",
        "PREPARE transaction AS SELECT 1",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
        "DO $$ BEGIN COMMIT; END $$",
      ]
    ) assert.equal(readSql(text).controls, false, text);
  });

  it("counts an unreadable text as transaction control", () => {
    // Unreadable and without any word of interest, a text is refused by the server as a whole.
    assert.equal(readSql("SELECT 'open").controls, false);
    assert.equal(analyzeSql("SELECT 'open").unsure, true);
    for (
      const text of [
        "SELECT 'open; begin",
        "/* open BEGIN",
        "SELECT \\x; SET a = 1",
        'SELECT "open; commit',
      ]
    ) {
      const v = readSql(text);
      assert.equal(v.controls && v.unsure && v.tx === TxEffect.Unknown, true, text);
      assert.equal(v.changes, S.Unknown, text);
    }
  });

  it("knows where the transaction stands afterwards, not from the command tag", () => {
    const cases: [string, TxEffect][] = [
      ["SELECT 1", TxEffect.None],
      ["BEGIN", TxEffect.Opens],
      ["COMMIT", TxEffect.Ends],
      ["COMMIT AND CHAIN", TxEffect.Opens],
      ["commit work and chain", TxEffect.Opens],
      ["COMMIT AND NO CHAIN", TxEffect.Ends],
      ["ROLLBACK TRANSACTION AND CHAIN", TxEffect.Opens],
      ["END AND CHAIN", TxEffect.Opens],
      ["ABORT AND CHAIN", TxEffect.Opens],
      ["/* c */ ROLLBACK TO SAVEPOINT s", TxEffect.Opens],
      ["rollback work to s", TxEffect.Opens],
      ["ROLLBACK", TxEffect.Ends],
      ["SAVEPOINT s", TxEffect.None],
      ["PREPARE TRANSACTION 'x'", TxEffect.Ends],
      ["BEGIN; INSERT INTO t VALUES (1); COMMIT", TxEffect.Ends],
      ["INSERT INTO t VALUES (1); BEGIN; SAVEPOINT a", TxEffect.Opens],
      ["SELECT 'a\\'; BEGIN; --'", TxEffect.Unknown],
    ];
    for (const [text, effect] of cases) assert.equal(readSql(text).tx, effect, text);
  });

  it("says where a NUL character is, in code, strings and comments alike (no text may hold one)", () => {
    for (
      const [text, at] of [["SELECT 1", -1], ["SELECT 1\0", 8], ["SELECT '\0'", 8], [
        "-- \0\nx",
        3,
      ]] as const
    ) {
      assert.equal(readSql(text).nulAt, at, JSON.stringify(text));
      assert.equal(analyzeSql(text).nulAt, at, JSON.stringify(text));
    }
    assert.equal(readSql("SELECT $$\0$$").unsure, true, "what holds a NUL counts as unreadable");
  });

  it("knows which texts may commit work (a group's retry must never run fn again after one)", () => {
    const cases: [string, boolean][] = [
      ["SELECT 1", false],
      ["INSERT INTO t VALUES (1)", false],
      ["BEGIN", false],
      ["ROLLBACK", false],
      ["abort", false],
      ["ROLLBACK TO SAVEPOINT s", false],
      ["SAVEPOINT s; RELEASE s", false],
      ["ROLLBACK PREPARED 'x'", false],
      ["SELECT 'COMMIT' AS \"commit\" -- COMMIT", false],
      ["SELECT $$COMMIT$$", false],
      ["COMMIT", true],
      ["/* c */ cOmMiT", true],
      ["-- c\r\ncommit work", true],
      ["COMMIT AND CHAIN", true],
      ["END", true],
      ["end transaction and chain", true],
      ["COMMIT PREPARED 'x'", true],
      ["PREPARE TRANSACTION 'x'", true],
      ["INSERT INTO t VALUES (1); COMMIT; INSERT INTO t VALUES (2)", true],
      ["SELECT 'a\\'; COMMIT; --'", true],
    ];
    for (const [text, commits] of cases) assert.equal(readSql(text).commits, commits, text);
  });
});

describe("readSql(): session changes", () => {
  it("sees each kind, in disguise too", () => {
    const cases: [string, number][] = [
      ["SET search_path = x", S.Settings],
      ["/* a; b */ SET work_mem = '1MB'", S.Settings],
      ["/* /* n */ */ set work_mem = '1MB'", S.Settings],
      ["SELECT 1; SET work_mem = '1MB'\r\n", S.Settings],
      ["SET SESSION statement_timeout = 5", S.Settings],
      ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", S.Settings],
      ["SET TIME ZONE 'UTC'", S.Settings],
      ["RESET work_mem", S.Settings],
      ["SET ROLE app", S.Role],
      ["SET SESSION ROLE app", S.Role],
      ["SET SESSION AUTHORIZATION app", S.Role],
      ["RESET ROLE", S.Role],
      ['SET "role" = app', S.Role],
      ["SET session_authorization = app", S.Role],
      ["RESET session_authorization", S.Role],
      ["SELECT set_config($1, $2, false)", S.Settings | S.Role],
      ["SELECT set_config('a.b', '1', $1)", S.Settings | S.Role],
      [
        "SELECT set_config('a.b', '1', true) FROM set_config('c.d', '2', false)",
        S.Settings | S.Role,
      ],
      ["SET LOCAL search_path = pg_temp", S.Temp],
      ["SELECT set_config('search_path', 'pg_temp', true)", S.Temp],
      ["SELECT set_config('a.b', '1', false)", S.Settings | S.Role],
      ["SELECT pg_catalog.\"set_config\"('a.b', '1', false)", S.Settings | S.Role],
      ["WITH x AS (SELECT set_config('a.b', '1', false)) SELECT * FROM x", S.Settings | S.Role],
      ["UPDATE pg_settings SET setting = '1' WHERE name = 'work_mem'", S.Settings | S.Role],
      ["update pg_catalog.pg_settings set setting = '1'", S.Settings | S.Role],
      ["CREATE TEMP TABLE t (x int)", S.Temp],
      ["CREATE GLOBAL TEMPORARY TABLE t (x int)", S.Temp],
      ["create or replace temp view v as select 1", S.Temp],
      ["EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1", S.Temp],
      ["SELECT 1 INTO TEMP t", S.Temp],
      ["SELECT 1 INTO TEMPORARY TABLE t", S.Temp],
      ["CREATE TABLE pg_temp.t (x int)", S.Temp],
      ['CREATE TABLE "pg_temp".t (x int)', S.Temp],
      ["SET search_path = pg_temp, public", S.Settings | S.Temp],
      ["SET search_path TO 'pg_temp', public", S.Settings | S.Temp],
      ["SELECT set_config('search_path', 'PG_TEMP,public', false)", S.Settings | S.Role | S.Temp],
      ["PREPARE q1 (int) AS SELECT $1", S.Prepared],
      ["SELECT pg_advisory_lock(1)", S.Locks],
      ["SELECT pg_try_advisory_lock_shared(1, 2)", S.Locks],
      ["LISTEN jobs", S.Listen],
      ["DECLARE c CURSOR WITH HOLD FOR SELECT 1", S.Cursors],
      ["DO $$ BEGIN PERFORM set_config('a.b', '1', false); END $$", S.Settings | S.Role],
      ["DO $$ BEGIN EXECUTE 'SET search_path = x'; END $$", S.Settings],
      ["DO $$ BEGIN IF true THEN SET work_mem = '1MB'; END IF; END $$", S.Settings],
      ["DO $$ BEGIN CREATE TEMP TABLE t (x int); END $$", S.Temp],
      ["DO $$ BEGIN EXECUTE format('LISTEN %I', 'c'); END $$", S.Listen | S.Unknown],
      ["DO E'BEGIN EXECUTE \\'SET a.b = 1\\'; END'", S.Unknown],
      [
        "SELECT query_to_xml('SELECT set_config(''a.b'', ''1'', false)', true, false, '')",
        S.Settings | S.Role,
      ],
      ["SELECT 1; SET a.b = 1; LISTEN x", S.Settings | S.Listen],
    ];
    for (const [text, bits] of cases) assert.equal(changes(text), bits, text);
  });

  it("collects PREPAREd names as DEALLOCATE takes them", () => {
    assert.deepEqual(readSql("PREPARE Q1 AS SELECT 1; prepare q2 as select 2").prepared, [
      "q1",
      "q2",
    ]);
    assert.deepEqual(readSql('PREPARE "My ""q""" AS SELECT 1').prepared, ['"My ""q"""']);
  });

  it("leaves ordinary statements alone", () => {
    for (
      const text of [
        "SELECT 1",
        "UPDATE t SET x = 1",
        "update settings set x = 1",
        "SELECT * FROM pg_settings",
        "SELECT * FROM t OFFSET 5",
        "SET LOCAL statement_timeout = 10",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SET CONSTRAINTS ALL DEFERRED",
        "SELECT pg_advisory_xact_lock(1)",
        "SELECT set_config('request.claims', $1, true)",
        "SELECT set_config('a.b', format('%s,%s', 1, (2)), TRUE)",
        "DECLARE c CURSOR FOR SELECT 1",
        "WITH hold AS (SELECT 1) SELECT * FROM hold",
        "INSERT INTO temp VALUES (1)",
        "INSERT INTO temp (a) SELECT 1",
        "SELECT temp FROM weather",
        "CREATE TABLE t (temp int)",
        "DO $$ BEGIN UPDATE t SET x = 1; END $$",
        "CALL refresh_all()",
        "SELECT 'SET x = 1; BEGIN; CREATE TEMP TABLE t; LISTEN c'",
        "SELECT $$ set_config pg_temp pg_advisory_lock $$",
        'SELECT 1 AS "set", 2 AS "pg_temp"',
        "SELECT 'C:\\'",
        "SELECT '\\d+'",
      ]
    ) assert.deepEqual([text, changes(text)], [text, 0]);
  });

  it("caches the verdict: a clean text gives the same frozen object every time", () => {
    const a = readSql("SELECT 42");
    assert.equal(readSql("SELECT 42"), a);
    assert.equal(readSql("SELECT 43"), a);
    assert.ok(Object.isFrozen(a));
  });
});

// Statements of interest, with what must be seen.
const INTERESTING: [Part[], { controls?: boolean; tx?: TxEffect; bits?: number }][] = [
  [parts("BEGIN"), { controls: true, tx: TxEffect.Opens }],
  [parts("START TRANSACTION"), { controls: true, tx: TxEffect.Opens }],
  [parts("COMMIT"), { controls: true, tx: TxEffect.Ends }],
  [parts("COMMIT AND CHAIN"), { controls: true, tx: TxEffect.Opens }],
  [parts("ROLLBACK WORK AND CHAIN"), { controls: true, tx: TxEffect.Opens }],
  [parts("ROLLBACK TO SAVEPOINT s"), { controls: true, tx: TxEffect.Opens }],
  [parts("END"), { controls: true, tx: TxEffect.Ends }],
  [parts("SAVEPOINT s"), { controls: true }],
  [parts("RELEASE SAVEPOINT s"), { controls: true }],
  [parts("PREPARE TRANSACTION 'x'"), { controls: true, tx: TxEffect.Ends }],
  [parts("SET search_path = x"), { bits: S.Settings }],
  [parts("SET SESSION statement_timeout TO 5"), { bits: S.Settings }],
  [parts("RESET work_mem"), { bits: S.Settings }],
  [parts("SET ROLE app"), { bits: S.Role }],
  [parts("SELECT set_config ( 'a.b' , '1' , false )"), { bits: S.Settings }],
  [parts("UPDATE pg_settings SET setting = '1' WHERE name = 'work_mem'"), { bits: S.Settings }],
  [parts("EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1"), { bits: S.Temp }],
  [parts("SELECT 1 INTO TEMP t"), { bits: S.Temp }],
  [parts("SELECT 1 AS a INTO TEMP overriding"), { bits: S.Temp }],
  [parts("SET local.x = 1"), { bits: S.Settings }],
  [parts("DO $$BEGIN EXECUTE 'SE' || 'T a.b = 1'; END$$"), { bits: S.Unknown }],
  [parts("CREATE TABLE pg_temp . t ( a int )"), { bits: S.Temp }],
  [parts("SET search_path = pg_temp , public"), { bits: S.Settings | S.Temp }],
  [parts("PREPARE p AS SELECT 1"), { bits: S.Prepared }],
  [parts("SELECT pg_advisory_lock ( 1 )"), { bits: S.Locks }],
  [parts("LISTEN c"), { bits: S.Listen }],
  [parts("DECLARE c CURSOR WITH HOLD FOR SELECT 1"), { bits: S.Cursors }],
];

// Harmless statements, and things that hide words of interest where they mean nothing.
const HARMLESS = [
  parts("SELECT 1"),
  parts("UPDATE t SET x = 1"),
  parts("INSERT INTO t VALUES ( 1 )"),
  parts("SET LOCAL work_mem = '1MB'"),
  parts("SELECT temp FROM weather"),
  parts("INSERT INTO temp OVERRIDING SYSTEM VALUE VALUES ( 1 )"),
  parts("DO $$BEGIN EXECUTE 'UPDATE t SET a = 1'; END$$"),
  parts("SELECT pg_advisory_xact_lock ( 1 )"),
  parts("SELECT set_config ( 'a.b' , '1' , TRUE )"),
];
const HIDDEN = [
  "'BEGIN; SET x = 1'",
  "$$COMMIT; CREATE TEMP TABLE t$$",
  "$q$ROLLBACK; LISTEN c$q$",
  "E'it\\'s; BEGIN; SET x = 1'",
  "'it''s; SET x = 1'",
  `"begin; set x=1"`,
  `"pg_temp_no"`,
];

describe("readSql() properties (fast-check)", () => {
  it("recall: a disguised statement of interest is always seen, also after a harmless one", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...INTERESTING).chain(([stmt, want]) =>
          fc.tuple(fc.constant(want), disguised(stmt), fc.option(disguised(HARMLESS[0])))
        ),
        ([want, text, before]) => {
          const full = before === null ? text : `${before};${text}`;
          const v = readSql(full);
          if (want.controls) assert.equal(v.controls, true, full);
          if (want.tx !== undefined) assert.equal(v.tx, want.tx, full);
          if (want.bits) assert.equal(v.changes & want.bits, want.bits, full);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("precision: words of interest in comments, strings and identifiers are never seen", () => {
    const harmless = fc.oneof(
      fc.constantFrom(...HARMLESS).chain(disguised),
      // A hidden value as a column of a harmless statement.
      fc.constantFrom(...HIDDEN).chain((h) =>
        disguised([{ k: "SELECT" }, { v: h }, ...parts("AS v")])
      ),
    );
    fc.assert(
      fc.property(fc.array(harmless, { minLength: 1, maxLength: 3 }), (stmts) => {
        const text = stmts.join(";");
        const v = readSql(text);
        assert.deepEqual([text, v.controls, v.changes], [text, false, 0]);
      }),
      { numRuns: 1000 },
    );
  });

  it("the quick pre-check is sound: what it passes as clean, a full read finds clean (or unreadable)", () => {
    const fragment = fc.constantFrom(
      "SELECT",
      "begin",
      "Commit",
      " ",
      ";",
      "'",
      "''",
      '"',
      "$$",
      "$1",
      "$a$",
      "--",
      "\n",
      "\r",
      "/*",
      "*/",
      "E'",
      "U&",
      "\\",
      "(",
      ")",
      "set",
      "x",
      "pg_temp",
      ".",
      "temp",
      "into",
      "do",
      "execute",
      "update",
      "pg_settings",
      "1",
      "and",
      "chain",
      "to",
      "\u212A",
      "é",
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (pieces) => {
        const text = pieces.join("");
        if (mayMatter(text)) return;
        const v = analyzeSql(text);
        assert.ok(v.unsure || (!v.controls && v.changes === 0 && v.tx === TxEffect.None), text);
      }),
      { numRuns: 10_000 },
    );
  });

  it("the quick pre-check sees a word right after a parameter or a dollar quote", () => {
    for (
      const text of [
        "SELECT $1pg_temp.t",
        "SELECT $1;begin",
        "SELECT $$x$$begin",
        "SELECT 1;Set a=1",
      ]
    ) {
      assert.ok(mayMatter(text), text);
    }
  });

  it("the quick pre-check passes every disguised statement of interest on to the full read", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...INTERESTING).chain(([stmt]) => disguised(stmt)),
        (text) => assert.ok(mayMatter(text), text),
      ),
      { numRuns: 500 },
    );
  });
});

describe("readSql(): liftsDeadline", () => {
  it("readSql() sees statement_timeout named in any form, and nothing else", () => {
    for (
      const text of [
        "SET LOCAL statement_timeout = 0",
        "/* a; b */ set local STATEMENT_TIMEOUT to '1h'",
        "SELECT set_config('statement_timeout', '0', true)",
        'SET LOCAL "statement_timeout" = 0',
        "select 1; -- x\r\nset local statement_timeout = 0",
      ]
    ) {
      assert.equal(readSql(text).liftsDeadline, true, text);
      assert.equal(analyzeSql(text).liftsDeadline, true, text);
    }
    for (const text of ["SELECT 1", "SELECT timeout FROM t", "SET LOCAL lock_timeout = 0"]) {
      assert.equal(readSql(text).liftsDeadline, false, text);
    }
    // Unreadable and naming a word of interest: assume the worst.
    assert.equal(readSql("SET LOCAL x = 'unterminated").liftsDeadline, true);
  });
});
