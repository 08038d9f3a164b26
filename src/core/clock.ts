/**
 * The injectable clock: the one source of time for the pool, so tests can
 * drive back-off and timeouts without sleeping.
 *
 * @module
 */

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** Time source and timers. All durations are milliseconds. */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `fn` after `ms`; the timer must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from {@linkcode Clock.setTimeout}. */
  clearTimeout(handle: TimerHandle): void;
}

// Deno and Node return objects with unref(); browsers and Deploy return numbers.
function unref(handle: unknown): unknown {
  const h = handle as { unref?: () => void };
  if (typeof h?.unref === "function") h.unref();
  else if (typeof handle === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(handle);
  }
  return handle;
}

/** The real clock: `performance.now()` and unref'd timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => unref(setTimeout(fn, ms)),
  clearTimeout: (handle) => clearTimeout(handle as number),
};
