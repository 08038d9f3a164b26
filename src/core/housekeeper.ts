/**
 * The pool-wide housekeeping: one timer for the whole pool (none per session
 * or lease) that closes idle resources past their idle timeout and retires
 * resources past their lifetime: idle ones at once, leased ones at release.
 *
 * @module
 */
import { type Clock, type TimerHandle, unrefTimer } from "./clock.ts";
import type { PoolEntry } from "./resource_pool_types.ts";

/**
 * Work in flight on a resource, counted by its holder, and the sweeps' view
 * of it: a resource with work in flight that makes no progress for long is
 * as good as dead (a silent network), with no timer per operation.
 */
export interface Progress {
  /** Operations in flight (the holder counts them). */
  busy: number;
  /** Operations completed since the start (the holder counts them). */
  progress: number;
  /** `progress` as the last sweep saw it. */
  progressSeen: number;
  /** Clock time of the last sweep that saw it idle or progressing. */
  steadySince: number;
  /** Its work may legitimately run without a bound (the holder lifted its deadline): never a stall. */
  unbounded: boolean;
}

/**
 * The counters of a resource just opened: nothing in flight.
 *
 * @param now Clock time of opening.
 * @returns Fresh counters.
 */
export function freshProgress(now: number): Progress {
  return { busy: 0, progress: 0, progressSeen: 0, steadySince: now, unbounded: false };
}

/**
 * How long a resource has had work in flight without progress, as sweeps
 * see it (at least that long; at most one sweep period longer).
 *
 * @param p The resource's counters.
 * @param now Clock time of this sweep.
 * @returns Milliseconds; 0 when it is idle or made progress since the last sweep.
 */
export function stalledFor(p: Progress, now: number): number {
  if (p.busy === 0 || p.progress !== p.progressSeen || p.unbounded) {
    p.progressSeen = p.progress;
    p.steadySince = now;
    return 0;
  }
  return now - p.steadySince;
}

/** What a sweep needs of a pool: its entries and a way to destroy one. */
export interface Sweepable<R> {
  /** Every live entry (a snapshot). */
  entries(): PoolEntry<R>[];
  /** Destroys an idle entry, saying why. */
  destroy(entry: PoolEntry<R>, reason: "idle-timeout" | "lifetime"): void;
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
    if (now >= entry.expiresAt) pool.destroy(entry, "lifetime");
    else if (idleTimeoutMs > 0 && idleMs >= idleTimeoutMs) pool.destroy(entry, "idle-timeout");
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

/**
 * After a clock leap, counts the missed time against every entry: lifetimes
 * end `leapMs` sooner and idle entries look idle at least `suspectMs` longer,
 * so each is pinged before its next use (or goes at this sweep). Only ever
 * ages entries: a leap never makes one look younger nor a deadline later.
 *
 * @param pool The pool.
 * @param leapMs The size of the leap (> 0).
 * @param suspectMs Idle time that makes an entry pinged before use.
 */
export function ageForLeap<R>(pool: Sweepable<R>, leapMs: number, suspectMs: number): void {
  const idleShift = Math.max(leapMs, suspectMs + 1);
  for (const entry of pool.entries()) {
    entry.expiresAt -= leapMs;
    if (entry.leased) continue;
    entry.lastUsed -= idleShift;
    entry.busyAt -= idleShift;
  }
}

/**
 * A tick later than its period by more than this (or wall and monotonic time
 * drifting apart by more) is a leap; anything less is timer jitter.
 *
 * @param periodMs The sweep period.
 * @returns Milliseconds.
 */
export function leapTolerance(periodMs: number): number {
  return Math.max(1000, periodMs);
}

/**
 * A periodic sweep on one unref'd timer, armed only once started. Each tick
 * also checks for a clock leap (a frozen isolate, a suspended machine): the
 * wall clock ran ahead of the monotonic one, or the tick came far too late.
 */
export class Housekeeper {
  readonly #clock: Clock;
  readonly #periodMs: number;
  readonly #sweep: (now: number) => void;
  readonly #onLeap: ((leapMs: number, now: number) => void) | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #armedAt = 0;
  #armedWall = 0;

  /**
   * Builds a stopped housekeeper.
   *
   * @param clock The clock.
   * @param periodMs Time between sweeps.
   * @param sweep The work of one sweep.
   * @param onLeap Called before the sweep of a tick that saw a forward leap.
   */
  constructor(
    clock: Clock,
    periodMs: number,
    sweep: (now: number) => void,
    onLeap?: (leapMs: number, now: number) => void,
  ) {
    this.#clock = clock;
    this.#periodMs = periodMs;
    this.#sweep = sweep;
    this.#onLeap = onLeap;
  }

  /** Arms the timer, unless it is armed already or stopped for good. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#mark(this.#clock.now());
    // One interval for the pool's life, not a timer re-armed per tick: a
    // test runner that checks each test for timers it started and left
    // pending (Deno's ops sanitizer) would blame whichever test a tick fell in.
    const clock = this.#clock;
    this.#timer = clock.setInterval
      ? clock.setInterval(() => this.#tick(), this.#periodMs)
      : clock.setTimeout(() => this.#tick(), this.#periodMs);
    // Housekeeping alone never keeps a process alive.
    unrefTimer(this.#timer);
  }

  /** Disarms the timer for good (the pool ended). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clear(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = this.#clock.now();
    const leapMs = this.#leap(now, this.#clock.wallNow?.() ?? now);
    if (leapMs > 0) this.#onLeap?.(leapMs, now);
    this.#sweep(now);
    if (this.#clock.setInterval) return this.#mark(this.#clock.now());
    this.#timer = undefined;
    this.start();
  }

  #mark(now: number): void {
    this.#armedAt = now;
    this.#armedWall = this.#clock.wallNow?.() ?? now;
  }

  #clear(timer: TimerHandle): void {
    if (this.#clock.clearInterval) this.#clock.clearInterval(timer);
    else this.#clock.clearTimeout(timer);
  }

  // Forward only: a wall clock set back (negative divergence) is no leap, so
  // it can neither make an entry younger nor push a deadline later.
  #leap(now: number, wall: number): number {
    const elapsed = now - this.#armedAt;
    const leapMs = Math.max(wall - this.#armedWall - elapsed, elapsed - this.#periodMs);
    return leapMs > leapTolerance(this.#periodMs) ? leapMs : 0;
  }
}

/** The period of a tick that only watches for clock leaps (no limit to enforce). */
export const LEAP_CHECK_MS = 10_000;

/**
 * The period of the sweep: a tenth of the shorter lifetime limit, a quarter
 * of the shortest stall deadline, between 100 ms and a minute, so a session
 * overstays a limit by at most about 10% (25% for a stall). With no limit at
 * all, the tick still runs to see clock leaps: a suspend makes idle sessions suspect.
 *
 * @param idleTimeoutMs The idle timeout (0: off).
 * @param maxLifetimeMs The lifetime (0: off).
 * @param stallMs The shortest stall deadline (0: none).
 * @returns The period.
 */
export function sweepPeriod(
  idleTimeoutMs: number,
  maxLifetimeMs: number,
  stallMs = 0,
): number {
  const limits = [idleTimeoutMs / 10, maxLifetimeMs / 10, stallMs / 4].filter((ms) =>
    ms > 0 && ms < Infinity
  );
  if (limits.length === 0) return LEAP_CHECK_MS;
  return Math.min(60_000, Math.max(100, Math.min(...limits)));
}
