/**
 * Temporary objects, read from a statement's tokens: where `temp` is the
 * TEMP keyword (and not a table's name), when a temporary table ends with
 * its transaction, and where a value names the temporary schema.
 *
 * @module
 */
import { type Token, TokenKind } from "./tokenizer.ts";
import { wordAt } from "./statements.ts";

/**
 * Whether `temp` / `temporary` at `i` is the TEMP keyword: after CREATE [OR
 * REPLACE] [GLOBAL | LOCAL], and after SELECT's INTO whatever follows (`INTO
 * TEMP overriding` makes a table named overriding). Only INSERT INTO and
 * MERGE INTO take a plain table name there, which may be `temp`.
 *
 * @param stmt The statement's tokens.
 * @param i Where the word is.
 * @returns `true` when it makes a temporary object.
 */
export function isTempKeyword(stmt: readonly Token[], i: number): boolean {
  const before = wordAt(stmt, i - 1);
  if (before === "create" || before === "replace" || before === "global" || before === "local") {
    return true;
  }
  if (before !== "into") return false;
  const verb = wordAt(stmt, i - 2);
  return verb !== "insert" && verb !== "merge";
}

/**
 * Whether a `CREATE TEMP TABLE` ends with its transaction (`ON COMMIT DROP`).
 * The clause stands outside parentheses and before `AS`, where no column or
 * alias of a query can fake it.
 *
 * @param stmt The statement's tokens.
 * @param i Where `temp` is.
 * @returns `true` when nothing outlives the transaction.
 */
export function dropsOnCommit(stmt: readonly Token[], i: number): boolean {
  if (wordAt(stmt, i - 1) === "into" || wordAt(stmt, i + 1) !== "table") return false;
  let depth = 0;
  for (let j = i + 2; j + 2 < stmt.length; j++) {
    const token = stmt[j];
    if (token.kind === TokenKind.Punct) {
      if (token.value === "(" || token.value === "[") depth++;
      else if (token.value === ")" || token.value === "]") depth--;
    } else if (depth === 0 && token.kind === TokenKind.Word) {
      if (token.value === "as") return false;
      if (
        token.value === "on" && wordAt(stmt, j + 1) === "commit" && wordAt(stmt, j + 2) === "drop"
      ) return true;
    }
  }
  return false;
}

/**
 * Whether a string of the statement names `pg_temp`: `SET search_path =
 * 'pg_temp, public'`, `set_config('search_path', 'pg_temp', ...)`.
 *
 * @param stmt The statement's tokens.
 * @returns `true` when a value may put the temporary schema first.
 */
export function mentionsTempSchema(stmt: readonly Token[]): boolean {
  for (const token of stmt) {
    if (token.kind === TokenKind.String && token.value.toLowerCase().includes("pg_temp")) {
      return true;
    }
  }
  return false;
}
