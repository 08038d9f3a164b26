/**
 * The lease side of a handler of an exclusive group: the entry it holds, the
 * lease watch, the queries still in flight, and giving the session back
 * (clean it, wait for a query `fn` left running, or drop it). `PoolHandler`
 * adds the queries and the transaction on top.
 *
 * @module
 */
import { type Clock, waitAtMost } from "../core/clock.ts";
import type { PoolEntry } from "../core/resource_pool.ts";
import type { DriverConnection, DriverResult } from "../driver.ts";
import type { PoolError } from "../errors.ts";
import type { EndpointInfo } from "../endpoints/endpoint_set.ts";
import type { LeaseWatch, WatchRecord } from "./lease_watch.ts";
import { cleanSession, losesSetup, releaseSql, TxState } from "./release.ts";
import type { SessionCloseReason } from "../observe/events.ts";

/** What a handler needs from its group. */
export interface HandlerOwner {
  readonly name: string;
  readonly autocommit: boolean;
  /** The group's `reset`: `"auto"`, `"none"` or SQL. */
  readonly reset: string;
  /** The group sets its sessions up (`on_connect`, `sqlprepare`): a session that lost that is replaced. */
  readonly hasSetup?: boolean;
  /** Queries use `%s` / `%(name)s` placeholders (`paramstyle: "pyformat"`). */
  readonly pyformat?: boolean;
  endpointOf(entry: PoolEntry<DriverConnection>): EndpointInfo;
  /** A statement failed with this SQLSTATE (25006 may mean the server's role changed). */
  statementFailed?(entry: PoolEntry<DriverConnection>, code: string | undefined): void;
  labelOf(entry: PoolEntry<DriverConnection>): string;
  release(entry: PoolEntry<DriverConnection>): void;
  destroy(entry: PoolEntry<DriverConnection>, reason?: SessionCloseReason): void;
  /** The group's clock. */
  readonly clock: Clock;
  /** How long release waits for a query `fn` left running before it drops the session. */
  readonly strayWaitMs: number;
}

// The callbacks of a reply that needs no tracking (see SessionLease.settlePlain).
interface PlainReply {
  holder: SessionLease | undefined;
  ok(result: DriverResult): DriverResult;
  failed(err: unknown): never;
}

/** One lease of one session. */
export abstract class SessionLease {
  protected readonly owner: HandlerOwner;
  protected readonly entry: PoolEntry<DriverConnection>;
  protected readonly conn: DriverConnection;
  protected released = false;
  #watchRecord: WatchRecord | undefined;
  // Called when the last query in flight answered (release waits for that: fn may not have).
  #quiet: (() => void) | undefined;

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

  /**
   * Reports this lease if it is held too long or collected unreleased.
   *
   * @param watch The pool's lease watch.
   * @param stack The stack of the caller's lease call.
   */
  watchWith(watch: LeaseWatch, stack: string | undefined): void {
    const { owner, entry } = this;
    // The reclaim closure must not hold the handler, or it could never be collected.
    this.#watchRecord = watch.watch(
      this,
      owner.name,
      () => owner.destroy(entry, "abandoned"),
      stack,
    );
  }

  /** The endpoint this session is connected to. */
  get endpoint(): EndpointInfo {
    return this.owner.endpointOf(this.entry);
  }

  /** The group it was leased from. */
  get group(): string {
    return this.owner.name;
  }

  /** Drops the session at once (the caller gave up on `fn`); the server rolls back. */
  abandon(): void {
    if (!this.endLease()) return;
    this.owner.destroy(this.entry, "abandoned");
  }

  /**
   * Marks the lease over and stops watching it.
   *
   * @returns `false` when it was already over.
   */
  protected endLease(): boolean {
    if (this.released) return false;
    this.released = true;
    this.#watchRecord?.watch.unwatch(this.#watchRecord);
    return true;
  }

  /** Counts a query sent (on the entry: the housekeeping sweep watches it for stalls). */
  protected sent(): void {
    this.entry.busy++;
  }

  /** Counts a query answered (or failed). */
  protected answered(): void {
    const entry = this.entry;
    entry.progress++;
    if (--entry.busy === 0) this.#quiet?.();
  }

  /**
   * The error a caller sees for a failed statement that neither controls a
   * transaction nor prepares one.
   *
   * @param err What the driver threw.
   * @returns The pool's error.
   */
  protected abstract failure(err: unknown): PoolError;

  /**
   * Settles a reply that needs no tracking: counted answered, a failure
   * translated, through two callbacks made once per session instead of two
   * closures per query.
   *
   * @param reply The driver's reply.
   * @returns The reply's result, or the translated failure.
   */
  protected settlePlain(reply: Promise<DriverResult>): Promise<DriverResult> {
    const plain = SessionLease.#plainReplyOf(this.entry);
    plain.holder = this;
    return reply.then(plain.ok, plain.failed);
  }

  // Kept in the session's entry. One handler holds a session at a time, and release waits
  // for its replies, so a reply's holder is the current one; it is let go once nothing is
  // in flight (the entry must not keep a released handler alive).
  static #plainReplyOf(entry: PoolEntry<DriverConnection>): PlainReply {
    const known = entry.owned as PlainReply | undefined;
    if (known !== undefined) return known;
    const plain: PlainReply = {
      holder: undefined,
      ok: (result) => {
        const h = plain.holder!;
        if (entry.busy === 1) plain.holder = undefined;
        h.answered();
        return result;
      },
      failed: (err) => {
        const h = plain.holder!;
        if (entry.busy === 1) plain.holder = undefined;
        const failure = h.failure(err);
        h.answered();
        throw failure;
      },
    };
    entry.owned = plain;
    return plain;
  }

  /**
   * Returns the session: as it is when clean (synchronously: no promise, no
   * round trip), after the cleanup it needs, or not at all when it is gone.
   *
   * @param tx The transaction state.
   * @param changes Session changes seen.
   * @param prepared Statements created with `PREPARE`.
   * @returns A promise only when a round trip or a wait is needed.
   */
  protected giveBack(
    tx: TxState,
    changes: number,
    prepared: readonly string[],
  ): Promise<void> | undefined {
    // Never hand out a session with the previous holder's query still running.
    if (this.entry.busy > 0) return this.#giveBackWhenQuiet(tx, changes, prepared);
    if (this.conn.closed) {
      this.owner.destroy(this.entry);
      return undefined;
    }
    const reset = this.owner.reset;
    // Nothing ran that leaves a trace (most leases): straight back, no reset to work out.
    if (changes === 0 && tx === TxState.Idle && (reset === "auto" || reset === "none")) {
      this.owner.release(this.entry);
      return undefined;
    }
    if (this.owner.hasSetup && losesSetup(reset, changes)) {
      // A new session gets the setup again; this one would go on without it.
      this.owner.destroy(this.entry, "reset-failed");
      return undefined;
    }
    if (releaseSql(tx, reset, changes, prepared) === undefined) {
      this.owner.release(this.entry);
      return undefined;
    }
    return this.#clean(tx, changes, prepared);
  }

  async #giveBackWhenQuiet(tx: TxState, changes: number, prepared: readonly string[]) {
    const { clock, strayWaitMs } = this.owner;
    await waitAtMost(clock, strayWaitMs, (done) => (this.#quiet = done));
    this.#quiet = undefined;
    // Still running: the session is not the next caller's to wait behind.
    if (this.entry.busy > 0) return this.owner.destroy(this.entry, "reset-failed");
    await this.giveBack(tx, changes, prepared);
  }

  async #clean(tx: TxState, changes: number, prepared: readonly string[]): Promise<void> {
    this.sent();
    try {
      await cleanSession(this.conn, tx, this.owner.reset, changes, prepared);
      this.answered();
      this.owner.release(this.entry);
    } catch {
      this.answered();
      // A session that cannot be cleaned is never handed to the next caller.
      this.owner.destroy(this.entry, this.conn.closed ? "broken" : "reset-failed");
    }
  }
}
