/**
 * The verdict of the last query text read, kept apart: a loop runs the same
 * statement again and again, and comparing a string with itself costs less
 * than the verdict cache's lookup.
 *
 * @module
 */
import { readSql, type SqlVerdict } from "../sql/read_sql.ts";
import { TxEffect } from "../sql/transaction_effects.ts";

let lastText: string | undefined;
let lastSql: SqlVerdict | undefined;

/**
 * `readSql(text)`, remembered for the last text.
 *
 * @param text SQL text.
 * @returns Its verdict.
 */
export function verdictOf(text: string): SqlVerdict {
  if (text !== lastText) {
    lastSql = readSql(text);
    lastText = text;
  }
  return lastSql!;
}

/**
 * Whether a statement needs no tracking (most do not): the session's two shared
 * callbacks settle its reply, no closures.
 *
 * @param sql Its verdict.
 * @returns `true` when it neither controls a transaction nor prepares a statement.
 */
export function isPlain(sql: SqlVerdict): boolean {
  return sql.tx === TxEffect.None && !sql.controls && sql.prepared.length === 0;
}
