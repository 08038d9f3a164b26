/**
 * Transaction control: which statements start, end or mark a transaction,
 * and where a session's transaction stands after them. The command tag alone
 * lies: `COMMIT AND CHAIN` answers `COMMIT` and opens a new transaction;
 * `ROLLBACK TO SAVEPOINT` answers `ROLLBACK` and leaves it open.
 *
 * @module
 */
import type { Token } from "./tokenizer.ts";
import { wordAt } from "./statements.ts";

/** Where a text leaves the session's transaction, once it ran to its end. */
export const TxEffect = {
  /** No statement opened or ended one: as before. */
  None: 0,
  /** A transaction is open afterwards (`BEGIN`, `... AND CHAIN`, `ROLLBACK TO`). */
  Opens: 1,
  /** No transaction is open afterwards (`COMMIT`, `ROLLBACK`, `PREPARE TRANSACTION`). */
  Ends: 2,
  /** The text could not be read: assume a transaction may be open. */
  Unknown: 3,
} as const;

/** A {@linkcode TxEffect} value. */
export type TxEffect = typeof TxEffect[keyof typeof TxEffect];

/**
 * Whether a statement controls the transaction, and how.
 *
 * @param stmt One statement's tokens.
 * @returns `undefined` when it is not transaction control; else its effect
 *   (`None` for `SAVEPOINT`, `RELEASE`, `COMMIT PREPARED`, `ROLLBACK PREPARED`).
 */
export function transactionEffect(stmt: readonly Token[]): TxEffect | undefined {
  const first = wordAt(stmt, 0);
  switch (first) {
    case "begin":
    case "start":
      return TxEffect.Opens;
    case "savepoint":
    case "release":
      return TxEffect.None;
    case "prepare": {
      // PREPARE TRANSACTION 'id' ends the transaction; PREPARE transaction AS ... names a statement.
      if (wordAt(stmt, 1) !== "transaction") return undefined;
      const next = stmt[2]?.value;
      return next === "as" || next === "(" ? undefined : TxEffect.Ends;
    }
    case "commit":
    case "end":
    case "rollback":
    case "abort": {
      let i = 1;
      const second = wordAt(stmt, 1);
      if (second === "prepared") return TxEffect.None;
      if (second === "work" || second === "transaction") i++;
      if (first === "rollback" && wordAt(stmt, i) === "to") return TxEffect.Opens;
      if (wordAt(stmt, i) === "and" && wordAt(stmt, i + 1) === "chain") return TxEffect.Opens;
      return TxEffect.Ends;
    }
    default:
      return undefined;
  }
}

/**
 * Whether a statement may commit work: `COMMIT` and `END` in every form (with
 * `AND CHAIN` too), `COMMIT PREPARED`, `PREPARE TRANSACTION` (its work outlives
 * the session). Running such a statement's caller again could repeat it.
 *
 * @param stmt One statement's tokens.
 * @returns `true` when it commits, or may.
 */
export function mayCommit(stmt: readonly Token[]): boolean {
  const first = wordAt(stmt, 0);
  if (first === "commit" || first === "end") return true;
  return first === "prepare" && transactionEffect(stmt) === TxEffect.Ends;
}
