/**
 * The release decision in one function: what to do with a session when its
 * handler is released.
 *
 * @module
 */

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

/** What release does with the session. */
export enum ReleaseAction {
  /** Clean: back to the idle set, no round trip. */
  Reuse,
  /** A transaction may be open: ROLLBACK first, then reuse (destroy if that fails). */
  Rollback,
  /** The session is gone: drop it; its slot is refilled lazily. */
  Destroy,
}

/**
 * Decides what release does with a session.
 *
 * @param broken Whether the session is gone.
 * @param tx Its transaction state.
 * @returns The action.
 */
export function releaseAction(broken: boolean, tx: TxState): ReleaseAction {
  if (broken) return ReleaseAction.Destroy;
  return tx === TxState.Idle ? ReleaseAction.Reuse : ReleaseAction.Rollback;
}
