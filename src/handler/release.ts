/**
 * The release decision in one function: what must run on a session before
 * the next caller may have it.
 *
 * @module
 */
import { undoSql } from "../sql/session_changes.ts";

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
