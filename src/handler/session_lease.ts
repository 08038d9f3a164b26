/**
 * The lease side of a handler of an exclusive group: the entry it holds, the
 * lease watch, the queries still in flight, and giving the session back
 * (clean it, wait for a query `fn` left running, or drop it). `PoolHandler`
 * adds the queries and the transaction on top. These methods are installed
 * on its prototype rather than inherited: every level of inheritance costs a
 * handler's construction time, and a handler is made per lease.
 *
 * @module
 */
import { type Clock, waitAtMost } from "../core/clock.ts";
import type { PoolEntry } from "../core/resource_pool.ts";
import type { DriverConnection, DriverResult } from "../driver.ts";
import type { PoolError } from "../errors.ts";
import type { EndpointInfo } from "../endpoints/endpoint_set.ts";
import type { LeaseWatch, WatchRecord } from "./lease_watch.ts";
import { cleanSession, lastsPastReset, losesSetup, releaseSql, TxState } from "./release.ts";
import { callbacksOf, type SessionCallbacks } from "./plain_reply.ts";
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

/** What a handler keeps of its lease (its own fields, read and written by the methods here). */
export interface LeaseFields {
  readonly owner: HandlerOwner;
  readonly entry: PoolEntry<DriverConnection>;
  readonly conn: DriverConnection;
  released: boolean;
  watchRecord: WatchRecord | undefined;
  /** Called when the last query in flight answered (release waits for that: fn may not have). */
  quiet: (() => void) | undefined;
  /**
   * The error a caller sees for a failed statement that neither controls a
   * transaction nor prepares one.
   *
   * @param err What the driver threw.
   * @returns The pool's error.
   */
  failure(err: unknown): PoolError;
  /**
   * Ends the lease (see `GroupHandler.finish`).
   *
   * @param commit Whether `fn` succeeded.
   * @returns A promise only when a round trip is needed.
   */
  finish(commit: boolean): Promise<void> | undefined;
}

/** The lease methods {@linkcode installLeaseMethods} adds to a handler class. */
export interface LeaseMethods {
  /**
   * Reports this lease if it is held too long or collected unreleased.
   *
   * @param watch The pool's lease watch.
   * @param stack The stack of the caller's lease call.
   */
  watchWith(watch: LeaseWatch, stack: string | undefined): void;
  /** The endpoint this session is connected to. */
  readonly endpoint: EndpointInfo;
  /** The group it was leased from. */
  readonly group: string;
  /** Drops the session at once (the caller gave up on `fn`); the server rolls back. */
  abandon(): void;
  /**
   * Marks the lease over and stops watching it.
   *
   * @returns `false` when it was already over.
   */
  endLease(): boolean;
  /** Counts a query sent (on the entry: the housekeeping sweep watches it for stalls). */
  sent(): void;
  /** Counts a query answered (or failed). */
  answered(): void;
  /**
   * Settles a reply that needs no tracking (counted answered, a failure
   * translated) through the session's two callbacks: no closure per query.
   *
   * @param reply The driver's reply.
   * @returns The reply's result, or the translated failure.
   */
  settlePlain(reply: Promise<DriverResult>): Promise<DriverResult>;
  /**
   * Ends a `withHandler` run once `fn`'s work settles (commit and release, or
   * roll back, release and rethrow) through the session's callbacks.
   *
   * @param work What `fn` returned.
   * @returns `work`'s result, once the session is back.
   */
  settleRun<T>(work: T | Promise<T>): Promise<T>;
  /**
   * Returns the session: as it is when clean (synchronously: no promise, no
   * round trip), after the cleanup it needs, or not at all when it is gone.
   *
   * @param tx The transaction state.
   * @param changes Session changes seen.
   * @param prepared Statements created with `PREPARE`.
   * @returns A promise only when a round trip or a wait is needed.
   */
  giveBack(tx: TxState, changes: number, prepared: readonly string[]): Promise<void> | undefined;
}

/** A handler with the lease methods installed. */
export type Lease = LeaseFields & LeaseMethods;

const methods: ThisType<Lease> & Omit<LeaseMethods, "endpoint" | "group"> & {
  readonly endpoint: EndpointInfo;
  readonly group: string;
} = {
  watchWith(watch, stack) {
    const { owner, entry } = this;
    // The reclaim closure must not hold the handler, or it could never be collected.
    this.watchRecord = watch.watch(
      this,
      owner.name,
      () => owner.destroy(entry, "abandoned"),
      stack,
    );
  },

  get endpoint(): EndpointInfo {
    return (this as Lease).owner.endpointOf((this as Lease).entry);
  },

  get group(): string {
    return (this as Lease).owner.name;
  },

  abandon() {
    if (!this.endLease()) return;
    this.owner.destroy(this.entry, "abandoned");
  },

  endLease() {
    if (this.released) return false;
    this.released = true;
    this.watchRecord?.watch.unwatch(this.watchRecord);
    // fn gave its handler back mid-run: the run keeps these callbacks, the next holder new ones.
    const c = this.entry.owned as SessionCallbacks | undefined;
    if (c !== undefined && c.runner === this) this.entry.owned = undefined;
    return true;
  },

  sent() {
    this.entry.busy++;
  },

  answered() {
    const entry = this.entry;
    entry.progress++;
    if (--entry.busy === 0) this.quiet?.();
  },

  settlePlain(reply) {
    const c = callbacksOf(this.entry);
    c.holder = this;
    return reply.then(c.ok, c.failed);
  },

  settleRun<T>(work: T | Promise<T>): Promise<T> {
    // Released before fn's first await: nothing left to end; the callbacks may be the next holder's.
    if (this.released) return Promise.resolve(work);
    const c = callbacksOf(this.entry);
    c.runner = this;
    return Promise.resolve(work).then(c.fnDone, c.fnFailed) as Promise<T>;
  },

  giveBack(tx, changes, prepared) {
    // Never hand out a session with the previous holder's query still running.
    if (this.entry.busy > 0) return giveBackWhenQuiet(this, tx, changes, prepared);
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
    if ((this.owner.hasSetup && losesSetup(reset, changes)) || lastsPastReset(reset, changes)) {
      // A new session gets the setup again; this one would go on without it.
      this.owner.destroy(this.entry, "reset-failed");
      return undefined;
    }
    if (releaseSql(tx, reset, changes, prepared) === undefined) {
      this.owner.release(this.entry);
      return undefined;
    }
    return clean(this, tx, changes, prepared);
  },
};

/**
 * Installs the lease methods on a handler class (declare them in the class
 * with `declare`), as methods are: not enumerable.
 *
 * @param handlerClass A class whose instances keep {@linkcode LeaseFields}.
 */
export function installLeaseMethods(handlerClass: { prototype: LeaseFields }): void {
  for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(methods))) {
    Object.defineProperty(handlerClass.prototype, name, { ...d, enumerable: false });
  }
}

async function giveBackWhenQuiet(
  h: Lease,
  tx: TxState,
  changes: number,
  prepared: readonly string[],
): Promise<void> {
  const { clock, strayWaitMs } = h.owner;
  await waitAtMost(clock, strayWaitMs, (done) => (h.quiet = done));
  h.quiet = undefined;
  // Still running: the session is not the next caller's to wait behind.
  if (h.entry.busy > 0) return h.owner.destroy(h.entry, "reset-failed");
  await h.giveBack(tx, changes, prepared);
}

async function clean(h: Lease, tx: TxState, changes: number, prepared: readonly string[]) {
  h.sent();
  try {
    await cleanSession(h.conn, tx, h.owner.reset, changes, prepared);
    h.answered();
    h.owner.release(h.entry);
  } catch {
    h.answered();
    // A session that cannot be cleaned is never handed to the next caller.
    h.owner.destroy(h.entry, h.conn.closed ? "broken" : "reset-failed");
  }
}
