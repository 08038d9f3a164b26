/**
 * The release decision in one function: what must run on a session before
 * the next caller may have it.
 *
 * @module
 */
import type { DriverConnection } from "../driver.ts";
import { SessionChange, UNDOES_SETUP, undoSql } from "../sql/session_changes.ts";

/** Where the session's transaction stands, as tracked from command tags. */
export enum TxState {
  /** No transaction open. */
  Idle,
  /** A transaction is open. */
  Open,
  /** A statement in the open transaction failed; only ROLLBACK is accepted. */
  Failed,
  /** Multi-statement text ran: the state cannot be told from the last tag. */
  Unknown,
}

/**
 * The SQL to run before a live session goes back to the pool: ROLLBACK if a
 * transaction may be open, then the reset the group asks for. A session that
 * is gone is dropped by the caller before asking.
 *
 * @param tx The transaction state.
 * @param reset The group's `reset`: `"auto"`, `"none"` or SQL.
 * @param changes Session changes seen (`SessionChange` bits).
 * @param prepared Statements the handler created with `PREPARE`.
 * @returns The SQL, or `undefined` when the session is clean: reuse it as is.
 */
export function releaseSql(
  tx: TxState,
  reset: string,
  changes: number,
  prepared: readonly string[],
): string | undefined {
  const rollback = tx === TxState.Idle ? undefined : "ROLLBACK";
  const undo = reset === "auto" ? undoSql(changes, prepared) : reset === "none" ? undefined : reset;
  if (rollback && undo) return `${rollback}; ${undo}`;
  return rollback ?? undo;
}

/**
 * Whether a session's `on_connect` / `sqlprepare` setup is gone after this
 * lease: the handler wiped it (`DISCARD ALL`, `DEALLOCATE ALL`), or the
 * automatic reset would (`RESET ALL`, `DISCARD TEMP`).
 *
 * @param reset The group's `reset`.
 * @param changes Session changes seen.
 * @returns `true`: replace the session rather than clean it.
 */
export function losesSetup(reset: string, changes: number): boolean {
  if ((changes & SessionChange.Wiped) !== 0) return true;
  return reset === "auto" && (changes & UNDOES_SETUP) !== 0;
}

/**
 * Whether the handler changed what no reset undoes (`LOAD 'library'`), so
 * that the automatic reset must close the session instead.
 *
 * @param reset The group's `reset`.
 * @param changes Session changes seen.
 * @returns `true`: replace the session rather than clean it.
 */
export function lastsPastReset(reset: string, changes: number): boolean {
  return reset === "auto" && (changes & SessionChange.Lasting) !== 0;
}

/**
 * Runs the release SQL on a live session. A statement that `fn` deallocated
 * itself, or whose `PREPARE` failed, is no reason to drop a healthy session:
 * when the cleanup meets 26000 (no such prepared statement), the rest of it
 * runs again without the `DEALLOCATE`s, and each name is deallocated on its
 * own, allowed to find nothing.
 *
 * @param conn The session.
 * @param tx The transaction state.
 * @param reset The group's `reset`.
 * @param changes Session changes seen.
 * @param prepared Statements the handler created with `PREPARE`.
 * @throws What the cleanup met, when the session cannot be made clean.
 */
export async function cleanSession(
  conn: DriverConnection,
  tx: TxState,
  reset: string,
  changes: number,
  prepared: readonly string[],
): Promise<void> {
  const sql = releaseSql(tx, reset, changes, prepared);
  if (sql === undefined) return;
  try {
    await conn.query(sql);
    return;
  } catch (err) {
    if (reset !== "auto" || prepared.length === 0 || !statementGone(conn, err)) throw err;
  }
  // The failed text ran as one implicit transaction: none of it stuck, so all of it runs again.
  const rest = releaseSql(tx, reset, changes, []);
  if (rest) await conn.query(rest);
  for (const name of new Set(prepared)) {
    await conn.query(`DEALLOCATE ${name}`).catch((err) => {
      if (!statementGone(conn, err)) throw err;
    });
  }
}

function statementGone(conn: DriverConnection, err: unknown): boolean {
  return !conn.closed && (err as { code?: unknown } | null)?.code === "26000";
}
