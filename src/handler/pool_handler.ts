/**
 * The handler the pool hands out for one leased session: query, commit and
 * rollback, tracking the transaction state from command tags and the session
 * changes release must undo.
 *
 * @module
 */
import type { DriverConnection } from "../driver.ts";
import type { PoolEntry } from "../core/resource_pool.ts";
import {
  CommitUnknownError,
  ConnectionError,
  HandlerReleasedError,
  PoolError,
  QueryError,
} from "../errors.ts";
import type { QueryResult } from "./handler.ts";
import type { GroupHandler } from "../groups/group.ts";
import { invalidQuery } from "./query_args.ts";
import { releaseSql, TxState } from "./release.ts";
import { SessionChange } from "../sql/session_changes.ts";
import { readSql, type SqlVerdict } from "../sql/read_sql.ts";
import { TxEffect } from "../sql/transaction_effects.ts";
import type { LeaseWatch, WatchRecord } from "./lease_watch.ts";
import type { EndpointInfo } from "../endpoints/endpoint_set.ts";

/** What a handler needs from its group. */
export interface HandlerOwner {
  readonly name: string;
  readonly autocommit: boolean;
  /** The group's `reset`: `"auto"`, `"none"` or SQL. */
  readonly reset: string;
  endpointOf(entry: PoolEntry<DriverConnection>): EndpointInfo;
  /** A statement failed with this SQLSTATE (25006 may mean the server's role changed). */
  statementFailed?(entry: PoolEntry<DriverConnection>, code: string | undefined): void;
  labelOf(entry: PoolEntry<DriverConnection>): string;
  release(entry: PoolEntry<DriverConnection>): void;
  destroy(entry: PoolEntry<DriverConnection>): void;
}

const NONE: readonly string[] = Object.freeze([]);

/** The handler the pool hands out. */
export class PoolHandler implements GroupHandler {
  readonly #owner: HandlerOwner;
  readonly #entry: PoolEntry<DriverConnection>;
  readonly #conn: DriverConnection;
  #released = false;
  #tx = TxState.Idle;
  // A transaction was open when the session was lost: nothing of it was committed.
  #txLost = false;
  // SessionChange bits, and the PREPAREd names, that release must undo.
  #changes = 0;
  #prepared: string[] | undefined;
  #watch: LeaseWatch | undefined;
  #watchRecord: WatchRecord | undefined;

  /**
   * Wraps a leased entry.
   *
   * @param owner The group.
   * @param entry The leased entry.
   */
  constructor(owner: HandlerOwner, entry: PoolEntry<DriverConnection>) {
    this.#owner = owner;
    this.#entry = entry;
    this.#conn = entry.resource;
  }

  /**
   * Reports this lease if it is held too long or collected unreleased.
   *
   * @param watch The pool's lease watch.
   * @param stack The stack of the caller's lease call.
   */
  watchWith(watch: LeaseWatch, stack: string | undefined): void {
    const owner = this.#owner;
    const entry = this.#entry;
    this.#watch = watch;
    this.#watchRecord = watch.watch(this, owner.name, () => owner.destroy(entry), stack);
  }

  get endpoint(): EndpointInfo {
    return this.#owner.endpointOf(this.#entry);
  }

  get group(): string {
    return this.#owner.name;
  }

  query<R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>> {
    if (this.#released) return Promise.reject(new HandlerReleasedError("query"));
    const invalid = invalidQuery(text, params);
    if (invalid) return Promise.reject(invalid);
    const sql = readSql(text);
    if (sql.changes !== 0) this.#noteChanges(sql);
    // Unknown too: BEGIN inside an open transaction only warns, so it is safe either way.
    if ((this.#tx === TxState.Idle || this.#tx === TxState.Unknown) && !this.#owner.autocommit) {
      return this.#beginAndRun(text, params, sql) as Promise<QueryResult<R>>;
    }
    return this.#run(text, params, sql) as Promise<QueryResult<R>>;
  }

  async commit(): Promise<void> {
    if (this.#released) throw new HandlerReleasedError("commit");
    if (this.#tx !== TxState.Idle || this.#txLost) await this.#commit();
  }

  async rollback(): Promise<void> {
    if (this.#released) throw new HandlerReleasedError("rollback");
    this.#txLost = false;
    if (this.#tx !== TxState.Idle) await this.#rollback();
  }

  markDirty(): void {
    if (this.#released) throw new HandlerReleasedError("markDirty");
    this.#changes |= SessionChange.Unknown;
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
    if (this.#released) return undefined;
    this.#released = true;
    if (this.#watchRecord) this.#watch!.unwatch(this.#watchRecord);
    if (commit && (this.#txLost || (this.#tx !== TxState.Idle && !this.#owner.autocommit))) {
      return this.#commitAndGiveBack();
    }
    return this.#giveBack();
  }

  /** Drops the session at once (the caller gave up on `fn`); the server rolls back. */
  abandon(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#watchRecord) this.#watch!.unwatch(this.#watchRecord);
    this.#owner.destroy(this.#entry);
  }

  async #commitAndGiveBack(): Promise<void> {
    try {
      await this.#commit();
    } finally {
      await this.#giveBack();
    }
  }

  // Synchronous (no promise, no round trip) when the session is clean.
  #giveBack(): Promise<void> | undefined {
    if (this.#conn.closed) {
      this.#owner.destroy(this.#entry);
      return undefined;
    }
    const sql = releaseSql(this.#tx, this.#owner.reset, this.#changes, this.#prepared ?? NONE);
    if (sql === undefined) {
      this.#owner.release(this.#entry);
      return undefined;
    }
    return this.#clean(sql);
  }

  async #clean(sql: string): Promise<void> {
    try {
      await this.#conn.query(sql);
      this.#owner.release(this.#entry);
    } catch {
      // A session that cannot be cleaned is never handed to the next caller.
      this.#owner.destroy(this.#entry);
    }
  }

  #noteChanges(sql: SqlVerdict): void {
    this.#changes |= sql.changes;
    if (sql.prepared.length > 0) (this.#prepared ??= []).push(...sql.prepared);
  }

  async #run(text: string, params: readonly unknown[] | undefined, sql: SqlVerdict) {
    try {
      const result = await this.#conn.query(text, params);
      this.#track(sql);
      return result;
    } catch (err) {
      throw this.#failure(err, sql);
    }
  }

  // BEGIN and the first statement go out back to back: one round trip, not two.
  async #beginAndRun(text: string, params: readonly unknown[] | undefined, sql: SqlVerdict) {
    this.#tx = TxState.Open;
    const begin = this.#conn.query("BEGIN");
    const first = this.#conn.query(text, params);
    try {
      await begin;
    } catch (err) {
      first.catch(() => {});
      throw this.#failure(err);
    }
    try {
      const result = await first;
      this.#track(sql);
      return result;
    } catch (err) {
      throw this.#failure(err, sql);
    }
  }

  // From the text, not the command tag: COMMIT AND CHAIN answers COMMIT and leaves a
  // transaction open, ROLLBACK TO answers ROLLBACK.
  #track(sql: SqlVerdict): void {
    if (sql.tx === TxEffect.Opens) this.#tx = TxState.Open;
    else if (sql.tx === TxEffect.Ends) this.#tx = TxState.Idle;
    else if (sql.tx === TxEffect.Unknown) this.#tx = TxState.Unknown;
  }

  #failure(err: unknown, sql?: SqlVerdict): PoolError {
    if (this.#conn.closed) {
      if (this.#tx !== TxState.Idle) this.#txLost = true;
      this.#tx = TxState.Idle;
      return new ConnectionError(
        `Query failed on ${this.#owner.labelOf(this.#entry)}: the connection was lost: ${
          messageOf(err)
        }`,
        this.#owner.labelOf(this.#entry),
        { cause: err },
      );
    }
    // A failed text holding transaction control may have opened or ended one before failing.
    if (sql?.controls) this.#tx = TxState.Unknown;
    else if (this.#tx === TxState.Open) this.#tx = TxState.Failed;
    const failure = err instanceof PoolError ? err : new QueryError(messageOf(err), { cause: err });
    if (failure instanceof QueryError) this.#owner.statementFailed?.(this.#entry, failure.code);
    return failure;
  }

  async #commit(): Promise<void> {
    const label = this.#owner.labelOf(this.#entry);
    if (this.#txLost || this.#conn.closed) {
      this.#txLost = false;
      throw new ConnectionError(
        `Cannot commit on ${label}: the connection was lost before COMMIT; nothing was committed`,
        label,
      );
    }
    let command: string;
    try {
      command = (await this.#conn.query("COMMIT")).command;
    } catch (err) {
      this.#tx = TxState.Idle;
      if (this.#conn.closed) throw new CommitUnknownError(label, { cause: err });
      throw err instanceof PoolError ? err : new QueryError(messageOf(err), { cause: err });
    }
    this.#tx = TxState.Idle;
    if (command === "ROLLBACK") {
      throw new QueryError(
        "Cannot commit: a statement in the transaction failed, so the server rolled it back",
        { code: "25P02" },
      );
    }
  }

  async #rollback(): Promise<void> {
    try {
      await this.#conn.query("ROLLBACK");
    } catch (err) {
      // A lost session is rolled back by the server; anything else is reported.
      if (!this.#conn.closed) throw err instanceof PoolError ? err : new QueryError(messageOf(err));
    } finally {
      this.#tx = TxState.Idle;
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
