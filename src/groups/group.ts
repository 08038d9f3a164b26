/**
 * The one interface of a group, whatever its kind (exclusive sessions or
 * pipelined shared ones): the pool leases, reads stats and closes through it
 * and never asks which kind it holds.
 *
 * @module
 */
import type { AcquireOptions } from "../core/resource_pool.ts";
import type { GroupStats } from "../pool_types.ts";
import type { PoolObserver } from "../observe/observer.ts";
import type { Handler } from "../handler/handler.ts";
import type { LeaseWatch } from "../handler/lease_watch.ts";
import type { AfterLease } from "../handler/after_lease.ts";
import type { Clock } from "../core/clock.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointSet } from "../endpoints/endpoint_set.ts";

/** A handler as the pool holds it: what `fn` sees, plus the end of the lease. */
export interface GroupHandler extends Handler {
  /**
   * Ends the lease: commits (when `commit` and a transaction is open) or
   * rolls back, then gives the session back. Later calls do nothing.
   *
   * @param commit Whether `fn` succeeded.
   * @returns A promise only when a round trip is needed.
   */
  finish(commit: boolean): Promise<void> | undefined;
  /** The caller gave up on `fn`: the session is dropped (or its share returned) at once. */
  abandon(): void;
  /**
   * Reports this lease if it is held too long or collected unreleased.
   *
   * @param watch The pool's lease watch.
   * @param stack The stack of the caller's lease call, taken before any await.
   */
  watchWith(watch: LeaseWatch, stack: string | undefined): void;
}

/**
 * A named group of sessions.
 */
export interface LeaseGroup {
  /** The group's name. */
  readonly name: string;
  /** How many more times `withHandler` may run `fn` after a failure safe to retry (0: never). */
  readonly retry: number;
  /**
   * Leases a handler, honouring the caller's timeout and signal.
   *
   * @param options Timeout and abort signal of the wait.
   * @param after Runs on the handler as soon as it exists.
   * @returns The handler, synchronously on the fast path.
   * @throws {AcquireTimeoutError} Nothing became free in time.
   * @throws {OfflineError} No endpoint can be reached.
   * @throws {PoolClosedError} The pool was ended.
   */
  lease(options: AcquireOptions, after?: AfterLease): GroupHandler | Promise<GroupHandler>;
  /**
   * Gauges, counters and timings.
   *
   * @returns A fresh snapshot.
   */
  stats(): GroupStats;
  /**
   * Housekeeping: closes idle sessions past their idle timeout or lifetime,
   * and marks leased ones past their lifetime to retire at release.
   *
   * @param now Clock time.
   * @param idleTimeoutMs The idle timeout; 0: none.
   */
  sweep(now: number, idleTimeoutMs: number): void;
  /**
   * After a clock leap: lifetimes end `leapMs` sooner, idle sessions are pinged before next use.
   *
   * @param leapMs The size of the leap.
   */
  leap?(leapMs: number): void;
  /**
   * Opens sessions until the group holds its `connection_count` (`pool.open()`).
   *
   * @param timeoutMs How long it may take.
   * @throws The first connect or acquire error.
   */
  open(timeoutMs: number): Promise<void>;
  /**
   * Sets the group's `connection_count` (see `pool.resize`): growing may open
   * sessions for queued callers now; shrinking closes idle sessions above it
   * now and leased ones at release.
   *
   * @param max The new size (≥ 1).
   */
  resize(max: number): void;
  /**
   * Retires the sessions on the endpoints `which` selects (see `pool.drain`,
   * `pool.setEndpoints`): idle ones close now, leased ones at release.
   *
   * @param which Selects by endpoint index.
   */
  retire(which: (endpoint: number) => boolean): void;
  /**
   * Stops leasing, waits up to `graceMs` for handlers out, closes every session.
   *
   * @param graceMs How long to wait for handlers.
   */
  close(graceMs: number): Promise<void>;
}

/** What a group needs from its pool. */
export interface GroupOptions {
  /** The pool's endpoints (shared by all groups). */
  endpoints: EndpointSet;
  /** The clock. */
  clock: Clock;
  /** Ping a session idle longer than this before handing it out. */
  pingAfterIdleMs: number;
  /** A ping unanswered this long breaks the session. */
  pingTimeoutMs: number;
  /** Retire a session at release after this age (jittered); 0: never. */
  maxLifetimeMs: number;
  /**
   * Per endpoint: a session whose queries get no reply this long is taken
   * for a dead network and closed (its `query_timeout` plus a grace); 0: never.
   */
  stallMs: readonly number[];
  /** Per endpoint: how long a new session's `sqlprepare` and `on_connect` may take (its connect_timeout). */
  setupMs: readonly number[];
  /** Closes a session; the pool tracks the promise so `end()` can wait for it. */
  close(connection: DriverConnection): void | Promise<void>;
  /** A session opened (the pool's housekeeping starts). */
  opened(): void;
  /** Where groups report sessions opened and closed, waits and timings. */
  observer: PoolObserver;
}
