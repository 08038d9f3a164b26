/**
 * Errors of a pool that cannot take a lease: no connection free in time, a
 * full wait queue, a pool that was ended.
 *
 * @module
 */
import { PoolError } from "./pool_error.ts";

/**
 * No connection became free within the acquire timeout. The message shows the
 * group's state (`total`, `leased`, `idle`, `waiting`).
 *
 * @example Give up waiting for a free connection after 100 ms
 * ```ts
 * import { AcquireTimeoutError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("default", (db) => db.query("SELECT 1"), { timeoutMs: 100 });
 * } catch (err) {
 *   if (err instanceof AcquireTimeoutError) console.log("pool exhausted");
 * }
 * ```
 */
export class AcquireTimeoutError extends PoolError {
  /**
   * Builds the error.
   *
   * @param message What timed out, with the pool's state.
   */
  constructor(message: string) {
    super(message);
    this.name = "AcquireTimeoutError";
  }
}

/**
 * A group's wait queue is full (`max_waiting`): the lease fails at once
 * instead of queueing. The message shows the group's state.
 *
 * @example Shed load when the queue of a group is full
 * ```ts
 * import { PoolOverloadedError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("default", (db) => db.query("SELECT 1"));
 * } catch (err) {
 *   if (err instanceof PoolOverloadedError) console.log("too busy:", err.maxWaiting);
 * }
 * ```
 */
export class PoolOverloadedError extends PoolError {
  /** The group whose wait queue is full. */
  readonly group: string;
  /** The group's `max_waiting` limit. */
  readonly maxWaiting: number;
  /**
   * Builds the error.
   *
   * @param group The group whose wait queue is full.
   * @param maxWaiting The group's `max_waiting` limit.
   * @param state The group's state (`total`, `leased`, `idle`, `waiting`), for the message.
   */
  constructor(group: string, maxWaiting: number, state: string) {
    super(
      `Cannot lease from group "${group}": the wait queue is full (max_waiting ${maxWaiting}; ${state})`,
    );
    this.name = "PoolOverloadedError";
    this.group = group;
    this.maxWaiting = maxWaiting;
  }
}

/**
 * The pool was ended: it takes no new leases.
 *
 * @example The message of a lease after end()
 * ```ts
 * import { PoolClosedError } from "@x/pgdbpool";
 * const err = new PoolClosedError();
 * console.log(err.message);
 * ```
 */
export class PoolClosedError extends PoolError {
  /** Builds the error. */
  constructor() {
    super("Cannot lease: the pool has been ended");
    this.name = "PoolClosedError";
  }
}
