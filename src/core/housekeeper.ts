/**
 * The pool-wide housekeeping: one timer for the whole pool (none per session
 * or lease) that closes idle resources past their idle timeout and retires
 * resources past their lifetime: idle ones at once, leased ones at release.
 *
 * @module
 */
import { type Clock, type TimerHandle, unrefTimer } from "./clock.ts";
import type { PoolEntry } from "./resource_pool_types.ts";

/** What a sweep needs of a pool: its entries and a way to destroy one. */
export interface Sweepable<R> {
  /** Every live entry (a snapshot). */
  entries(): PoolEntry<R>[];
  /** Destroys an idle entry. */
  destroy(entry: PoolEntry<R>): void;
}

/**
 * One sweep of one pool: an idle entry past its lifetime, or idle longer than
 * `idleTimeoutMs` (counted from its last hand-out or the last sweep that
 * found it leased, whichever is later), is destroyed; a leased one past its
 * lifetime is marked to retire at release. A lease is never interrupted.
 *
 * @param pool The pool.
 * @param now Clock time.
 * @param idleTimeoutMs Idle time after which an idle entry goes; 0: never.
 */
export function sweepPool<R>(pool: Sweepable<R>, now: number, idleTimeoutMs: number): void {
  for (const entry of pool.entries()) {
    if (entry.leased) {
      entry.busyAt = now;
      if (now >= entry.expiresAt) entry.retire = true;
      continue;
    }
    const idleMs = now - Math.max(entry.lastUsed, entry.busyAt);
    if (now >= entry.expiresAt || (idleTimeoutMs > 0 && idleMs >= idleTimeoutMs)) {
      pool.destroy(entry);
    }
  }
}

/**
 * When a resource opened at `now` is to retire: after `lifetimeMs` less a
 * random jitter of up to 10%, so that resources opened together do not all
 * reconnect together.
 *
 * @param now Clock time of opening.
 * @param lifetimeMs The lifetime; 0: unlimited.
 * @returns Clock time, or Infinity.
 */
export function retireAt(now: number, lifetimeMs: number): number {
  return lifetimeMs > 0 ? now + lifetimeMs * (1 - 0.1 * Math.random()) : Infinity;
}

/** A periodic sweep on one unref'd timer, armed only once started. */
export class Housekeeper {
  readonly #clock: Clock;
  readonly #periodMs: number;
  readonly #sweep: (now: number) => void;
  #timer: TimerHandle | undefined;
  #stopped = false;

  /**
   * Builds a stopped housekeeper.
   *
   * @param clock The clock.
   * @param periodMs Time between sweeps.
   * @param sweep The work of one sweep.
   */
  constructor(clock: Clock, periodMs: number, sweep: (now: number) => void) {
    this.#clock = clock;
    this.#periodMs = periodMs;
    this.#sweep = sweep;
  }

  /** Arms the timer, unless it is armed already or stopped for good. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#periodMs);
    // Housekeeping alone never keeps a process alive.
    unrefTimer(this.#timer);
  }

  /** Disarms the timer for good (the pool ended). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    this.#timer = undefined;
    this.#sweep(this.#clock.now());
    this.start();
  }
}

/**
 * The period of the sweep: a tenth of the shorter of the two limits, between
 * 100 ms and a minute, so a session overstays its limit by at most about 10%.
 *
 * @param idleTimeoutMs The idle timeout (0: off).
 * @param maxLifetimeMs The lifetime (0: off).
 * @returns The period, or `undefined` when both are off.
 */
export function sweepPeriod(idleTimeoutMs: number, maxLifetimeMs: number): number | undefined {
  const limits = [idleTimeoutMs, maxLifetimeMs].filter((ms) => ms > 0);
  if (limits.length === 0) return undefined;
  return Math.min(60_000, Math.max(100, Math.min(...limits) / 10));
}
