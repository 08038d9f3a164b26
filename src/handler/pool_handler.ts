/**
 * The handler the pool hands out for one leased session: query, commit and
 * rollback, tracking the transaction state from command tags and the session
 * changes release must undo.
 *
 * @module
 */
import type { DriverConnection, DriverResult } from "../driver.ts";
import type { PoolEntry } from "../core/resource_pool.ts";
import type { WatchRecord } from "./lease_watch.ts";
import { HandlerReleasedError, type PoolError, QueryError } from "../errors.ts";
import { connectionLost, queryFailure } from "./failures.ts";
import { commitOn, lostBeforeCommit, rollbackOn } from "./tx_commands.ts";
import type { QueryResult } from "./handler.ts";
import type { GroupHandler } from "../groups/group.ts";
import { invalidQuery, nulInText } from "./query_args.ts";
import {
  isTransactionPooled,
  namedStatementHint,
  sessionStateRefused,
} from "../endpoints/transaction_pooler.ts";
import { TxState } from "./release.ts";
import { queryPlain } from "./plain_reply.ts";
import { installQueryCalls, type QueryCalls, type QueryRunner } from "./query_calls.ts";
import { SessionChange } from "../sql/session_changes.ts";
import type { SqlVerdict } from "../sql/read_sql.ts";
import { isPlain, verdictOf } from "./last_verdict.ts";
import { TxEffect } from "../sql/transaction_effects.ts";
import {
  type HandlerOwner,
  installLeaseMethods,
  type LeaseFields,
  type LeaseMethods,
} from "./session_lease.ts";

export type { HandlerOwner };

const NONE: readonly string[] = Object.freeze([]);
const TIMEOUT_MAY_CHANGE = SessionChange.Settings | SessionChange.Unknown;

// The methods installed below (installQueryCalls, installLeaseMethods), declared.
export interface PoolHandler extends LeaseMethods, QueryCalls {}

/** The handler the pool hands out. */
export class PoolHandler implements GroupHandler, QueryRunner, LeaseFields {
  readonly owner: HandlerOwner;
  readonly entry: PoolEntry<DriverConnection>;
  readonly conn: DriverConnection;
  released = false;
  watchRecord: WatchRecord | undefined = undefined;
  quiet: (() => void) | undefined = undefined;
  #tx = TxState.Idle;
  // A transaction was open when the session was lost: nothing of it was committed.
  #txLost = false;
  // SessionChange bits, and the PREPAREd names, that release must undo.
  #changes = 0;
  #prepared: string[] | undefined;
  /** Commits that went through or may have (a group's retry never runs `fn` again after one). */
  commitsSent = 0;

  /**
   * Wraps a leased entry.
   *
   * @param owner The group.
   * @param entry The leased entry.
   */
  constructor(owner: HandlerOwner, entry: PoolEntry<DriverConnection>) {
    this.owner = owner;
    this.entry = entry;
    this.conn = entry.resource;
  }

  /** Whether the group's queries use `%s` / `%(name)s` placeholders. */
  get pyformat(): boolean | undefined {
    return this.owner.pyformat;
  }

  /** Runs one statement with `$n` placeholders (see {@linkcode QueryRunner.run}). */
  run<R>(text: string, params: readonly unknown[] | undefined): Promise<QueryResult<R>> {
    if (this.released) return Promise.reject(new HandlerReleasedError("query"));
    const invalid = invalidQuery(text, params);
    if (invalid) return Promise.reject(invalid);
    const sql = verdictOf(text);
    if (sql.changes !== 0) {
      if (sql.nulAt >= 0) return Promise.reject(nulInText(sql.nulAt));
      if (isTransactionPooled(this.conn)) {
        return Promise.reject(sessionStateRefused(this.owner.name, this.owner.labelOf(this.entry)));
      }
      this.#changes |= sql.changes;
      if (sql.prepared.length > 0) (this.#prepared ??= []).push(...sql.prepared);
    }
    if (sql.commits) this.commitsSent++; // Only now: a text refused above is never sent.
    // A lifted server deadline (SET statement_timeout): long waits no longer mean a dead network.
    if (sql.liftsDeadline || sql.changes & TIMEOUT_MAY_CHANGE) this.entry.unbounded = true;
    // Unknown too: BEGIN in an open transaction only warns (in a failed one: #beginAndRun).
    if ((this.#tx === TxState.Idle || this.#tx === TxState.Unknown) && !this.owner.autocommit) {
      return this.#beginAndRun(text, params, sql) as Promise<QueryResult<R>>;
    }
    return this.#run(text, params, sql) as Promise<QueryResult<R>>;
  }

  async commit(): Promise<void> {
    if (this.released) throw new HandlerReleasedError("commit");
    if (this.#tx !== TxState.Idle || this.#txLost) await this.#commit();
  }

  async rollback(): Promise<void> {
    if (this.released) throw new HandlerReleasedError("rollback");
    this.#txLost = false;
    if (this.#tx !== TxState.Idle) await this.#endTx(() => rollbackOn(this.conn));
  }

  markDirty(): void {
    if (this.released) throw new HandlerReleasedError("markDirty");
    this.#changes |= SessionChange.Unknown;
    this.entry.unbounded = true;
  }

  release(): Promise<void> {
    return this.finish(false) ?? Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /**
   * Ends the lease: commits (when `commit` and the group is transactional or
   * a transaction is open) or rolls back, then returns the session. Later
   * calls do nothing.
   *
   * @param commit Whether `fn` succeeded.
   * @throws {ConnectionError} When a transaction to commit was lost.
   * @throws {QueryError} When COMMIT failed.
   */
  finish(commit: boolean): Promise<void> | undefined {
    if (!this.endLease()) return undefined;
    if (commit && (this.#txLost || (this.#tx !== TxState.Idle && !this.owner.autocommit))) {
      return this.#commit().finally(() => this.#giveBack());
    }
    return this.#giveBack();
  }

  #giveBack(): Promise<void> | undefined {
    return this.giveBack(this.#tx, this.#changes, this.#prepared ?? NONE);
  }

  #run(text: string, params: readonly unknown[] | undefined, sql: SqlVerdict) {
    this.sent();
    if (isPlain(sql)) return queryPlain(this, text, params);
    let reply: Promise<DriverResult>;
    try {
      reply = this.conn.query(text, params);
    } catch (err) {
      reply = Promise.reject(err);
    }
    return this.#settle(reply, sql);
  }

  // A reply tracked, translated, the session quiet again: a plain `then` (an async frame costs more).
  #settle(reply: Promise<DriverResult>, sql: SqlVerdict): Promise<DriverResult> {
    if (isPlain(sql)) return this.settlePlain(reply);
    return reply.then((result) => {
      this.#track(sql);
      this.answered();
      return result;
    }, (err) => {
      const failure = this.failure(err, sql);
      this.answered();
      throw failure;
    });
  }

  // BEGIN and the first statement go out back to back: one round trip, not two.
  async #beginAndRun(text: string, params: readonly unknown[] | undefined, sql: SqlVerdict) {
    const unsure = this.#tx === TxState.Unknown;
    this.#tx = TxState.Open;
    const begin = this.conn.query("BEGIN");
    const first = this.conn.query(text, params);
    // Awaited below, after BEGIN: a refusal must not count as unhandled meanwhile.
    first.catch(() => {});
    this.sent();
    try {
      await begin;
    } catch (err) {
      // A failed transaction refuses BEGIN (25P02) but runs the statement (ROLLBACK ends it).
      if (unsure && err instanceof QueryError && err.code === "25P02" && !this.conn.closed) {
        this.#tx = TxState.Failed;
        return this.#settle(first, sql);
      }
      // The statement behind it is in flight too: the session is quiet once it answered.
      await first.catch(() => {});
      this.answered();
      throw this.failure(err);
    }
    return this.#settle(first, sql);
  }

  // From the text, not the command tag: COMMIT AND CHAIN answers COMMIT and leaves a
  // transaction open, ROLLBACK TO answers ROLLBACK.
  #track(sql: SqlVerdict): void {
    if (sql.tx === TxEffect.Opens) this.#tx = TxState.Open;
    else if (sql.tx === TxEffect.Ends) this.#tx = TxState.Idle;
    else if (sql.tx === TxEffect.Unknown) this.#tx = TxState.Unknown;
  }

  /**
   * The error a caller sees for a failed statement; notes what it did to the transaction.
   *
   * @param err What the driver threw.
   * @param sql The statement's verdict (none: it neither controls a transaction nor prepares).
   * @returns The pool's error.
   */
  failure(err: unknown, sql?: SqlVerdict): PoolError {
    if (this.conn.closed) {
      if (this.#tx !== TxState.Idle) this.#txLost = true;
      this.#tx = TxState.Idle;
      return connectionLost(this.owner.labelOf(this.entry), err);
    }
    // A failed text holding transaction control may have opened or ended one before failing.
    if (sql?.controls) this.#tx = TxState.Unknown;
    else if (this.#tx === TxState.Open) this.#tx = TxState.Failed;
    const failure = namedStatementHint(queryFailure(err), (sql?.prepared.length ?? 0) > 0);
    if (failure instanceof QueryError) this.owner.statementFailed?.(this.entry, failure.code);
    return failure;
  }

  async #commit(): Promise<void> {
    const label = this.owner.labelOf(this.entry);
    if (this.#txLost) {
      this.#txLost = false;
      throw lostBeforeCommit(label);
    }
    await this.#endTx(() => commitOn(this.conn, label, this));
  }

  // COMMIT or ROLLBACK, counted in flight: the transaction is over either way.
  async #endTx(send: () => Promise<unknown>): Promise<void> {
    this.sent();
    try {
      await send();
    } finally {
      this.answered();
      this.#tx = TxState.Idle;
    }
  }
}

installQueryCalls(PoolHandler);
installLeaseMethods(PoolHandler);
