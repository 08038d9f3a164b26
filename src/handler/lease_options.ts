/**
 * The options of one `withHandler` or `lease` call, checked once.
 *
 * @module
 */
import type { AcquireOptions } from "../core/resource_pool.ts";

/** Options of one `withHandler` or `lease` call. */
export interface LeaseOptions {
  /** Cancels the wait for a connection (and, for `withHandler`, the wait for `fn`). */
  signal?: AbortSignal;
  /** Longest wait for a free connection, in ms; defaults to the pool's `acquireTimeoutMs`. */
  timeoutMs?: number;
}

/**
 * Checks a caller's options and fills in the pool's default timeout.
 *
 * @param options What the caller passed.
 * @param defaults The pool's options (returned as they are when the caller passed none).
 * @returns The options for the wait.
 * @throws {TypeError} `signal` is not an AbortSignal.
 * @throws {RangeError} `timeoutMs` is not a number ≥ 0.
 * @throws The signal's reason when it already aborted.
 */
export function acquireOptions(
  options: LeaseOptions | undefined,
  defaults: AcquireOptions,
): AcquireOptions {
  if (!options) return defaults;
  const { signal, timeoutMs } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Invalid signal: expected an AbortSignal, received ${typeof signal}`);
  }
  signal?.throwIfAborted();
  if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && timeoutMs >= 0)) {
    throw new RangeError(
      `Invalid timeoutMs: expected a number of milliseconds ≥ 0 (Infinity: no limit), received ${
        typeof timeoutMs === "number" ? timeoutMs : typeof timeoutMs
      }`,
    );
  }
  return { signal, timeoutMs: timeoutMs ?? defaults.timeoutMs };
}
