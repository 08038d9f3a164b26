/**
 * The injectable clock: the one source of time for the pool, so tests can
 * drive back-off and timeouts without sleeping.
 *
 * @module
 */

/** An opaque timer handle. */
export type TimerHandle = unknown;

/**
 * Time source and timers. All durations are milliseconds.
 *
 * @example A clock that starts at zero and moves only when told
 * ```ts
 * import type { Clock } from "@x/pgdbpool";
 * let now = 0;
 * const manual: Clock = {
 *   now: () => now,
 *   setTimeout: (fn, ms) => setTimeout(fn, ms),
 *   clearTimeout: (handle) => clearTimeout(handle as number),
 * };
 * now += 1000;
 * ```
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /**
   * Wall-clock milliseconds (`Date.now()`), read only by the housekeeping
   * tick to see time the monotonic clock missed (a suspended machine). A
   * clock without it is never seen to leap by divergence, only by a late tick.
   */
  wallNow?(): number;
  /**
   * Calls `fn` after `ms`. Timers are armed only for callers that wait (an
   * acquire timeout, `end()`'s grace period), so they keep the process alive.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Calls `fn` every `ms` until cleared: the housekeeping sweep, one timer for
   * the pool's life. A clock without it gets a timeout re-armed per tick.
   */
  setInterval?(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from {@linkcode Clock.setInterval}. */
  clearInterval?(handle: TimerHandle): void;
}

// Date.now() costs half of performance.now() on Deno (which reads the clock
// through an op), and every lease reads the clock. Clamped so it never runs
// backwards: a wall-clock step back only pauses pool time until it catches up.
let last = 0;
function monotonicNow(): number {
  const t = Date.now();
  return t > last ? (last = t) : last;
}

/**
 * The longest delay a runtime's timer takes (2^31 - 1 ms, about 24.8 days):
 * a longer one fires at once. Deadlines are clamped to it.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** The real clock: millisecond wall time that never runs backwards, and the runtime's timers. */
export const systemClock: Clock = {
  now: monotonicNow,
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as number),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as number),
};

/**
 * Lets a background timer (a sweep) not keep the process alive. Timers of
 * other clocks are left as they are.
 *
 * @param handle A handle from {@linkcode Clock.setTimeout}.
 */
export function unrefTimer(handle: TimerHandle): void {
  const h = handle as { unref?: () => void };
  if (typeof h?.unref === "function") h.unref();
  else if (typeof handle === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(handle);
  }
}

/**
 * Waits until `arm`'s callback is called or `ms` pass, whichever comes first
 * (a grace period: `end()` waiting for leases to come back).
 *
 * @param clock The clock.
 * @param ms The longest wait.
 * @param arm Receives the function that ends the wait early.
 * @returns When either happened; the timer is cleared.
 */
export async function waitAtMost(
  clock: Clock,
  ms: number,
  arm: (done: () => void) => void,
): Promise<void> {
  let timer: TimerHandle;
  await new Promise<void>((resolve) => {
    arm(resolve);
    timer = clock.setTimeout(resolve, ms);
  });
  clock.clearTimeout(timer);
}

/**
 * Settles with `work`, or rejects with `late()` once `ms` pass first (a step
 * of opening a session bounded by its connect timeout); the timer is cleared.
 *
 * @param clock The clock.
 * @param work What to wait for.
 * @param ms The deadline.
 * @param late The error to reject with when the deadline comes first.
 * @returns What `work` resolves to.
 */
export async function settleWithin<T>(
  clock: Clock,
  work: Promise<T>,
  ms: number,
  late: () => unknown,
): Promise<T> {
  let timer: TimerHandle | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(late()), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clock.clearTimeout(timer!);
  }
}
