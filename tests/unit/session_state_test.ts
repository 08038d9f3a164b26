import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SessionChange, undoSql } from "../../src/sql/session_changes.ts";
import { sessionChanges } from "../../src/sql/read_sql.ts";
import { releaseSql, TxState } from "../../src/handler/release.ts";

const S = SessionChange;

function changes(text: string): [number, string[]] {
  const prepared: string[] = [];
  return [sessionChanges(text, prepared), prepared];
}

describe("sessionChanges()", () => {
  it("sees nothing in ordinary statements", () => {
    for (
      const text of [
        "SELECT 1",
        "UPDATE t SET x = 1",
        "SELECT * FROM t OFFSET 5",
        "SET LOCAL statement_timeout = 10",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SELECT pg_advisory_xact_lock(1)",
        "PREPARE TRANSACTION 'x'",
        "DECLARE c CURSOR FOR SELECT 1",
        "INSERT INTO dataset VALUES (1)",
      ]
    ) assert.equal(changes(text)[0], 0, text);
  });

  it("sees each kind of session change, after comments and whitespace too", () => {
    assert.equal(changes("SET search_path = x")[0], S.Settings);
    assert.equal(changes("  -- why\n /* c */ set work_mem = '1MB'")[0], S.Settings);
    assert.equal(changes("SET ROLE app")[0], S.Role);
    assert.equal(changes("SET SESSION AUTHORIZATION app")[0], S.Role);
    assert.equal(changes("SELECT set_config('a.b', '1', false)")[0], S.Settings | S.Role);
    assert.equal(changes("CREATE TEMP TABLE t (x int)")[0], S.Temp);
    assert.equal(changes("create temporary view v as select 1")[0], S.Temp);
    assert.equal(changes("SELECT 1 INTO TEMP t")[0], S.Temp);
    assert.equal(changes("CREATE TABLE pg_temp.t (x int)")[0], S.Temp);
    assert.deepEqual(changes("PREPARE q1 (int) AS SELECT $1"), [S.Prepared, ["q1"]]);
    assert.equal(changes("SELECT pg_advisory_lock(1)")[0], S.Locks);
    assert.equal(changes("SELECT pg_try_advisory_lock_shared(1, 2)")[0], S.Locks);
    assert.equal(changes("LISTEN jobs")[0], S.Listen);
    assert.equal(changes("DECLARE c CURSOR WITH HOLD FOR SELECT 1")[0], S.Cursors);
  });

  it("sees changes in every statement of a multi-statement text", () => {
    assert.equal(changes("SELECT 1; SET a.b = 1; LISTEN x")[0], S.Settings | S.Listen);
  });
});

describe("undoSql() and releaseSql()", () => {
  it("undo what was changed and nothing else, never DISCARD ALL or DEALLOCATE ALL", () => {
    assert.equal(undoSql(0, []), undefined);
    assert.equal(undoSql(S.Settings, []), "RESET ALL");
    assert.equal(undoSql(S.Prepared, ["q1", "q1"]), "DEALLOCATE q1");
    const all = undoSql(S.Unknown, [])!;
    assert.match(
      all,
      /CLOSE ALL.*RESET ROLE.*RESET ALL.*UNLISTEN \*.*pg_advisory_unlock_all.*DISCARD TEMP/,
    );
    assert.doesNotMatch(all, /DISCARD ALL|DEALLOCATE ALL/);
  });

  it("release costs nothing for a clean session and rolls back before resetting", () => {
    assert.equal(releaseSql(TxState.Idle, "auto", 0, []), undefined);
    assert.equal(releaseSql(TxState.Failed, "auto", S.Settings, []), "ROLLBACK; RESET ALL");
    assert.equal(releaseSql(TxState.Open, "none", S.Settings, []), "ROLLBACK");
    assert.equal(releaseSql(TxState.Idle, "none", S.Settings, []), undefined);
    assert.equal(releaseSql(TxState.Idle, "RESET ALL", 0, []), "RESET ALL");
  });
});
