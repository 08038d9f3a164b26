/**
 * The base class of every error the pool raises.
 *
 * @module
 */

/**
 * Base class of every error raised by the pool.
 *
 * @example Telling pool errors from the caller's own
 * ```ts
 * import { PoolError } from "@x/pgdbpool";
 * function isFromPool(err: unknown): boolean {
 *   return err instanceof PoolError;
 * }
 * ```
 */
export class PoolError extends Error {
  /**
   * Builds a pool error.
   *
   * @param message What failed, with the detail after a colon.
   * @param options The underlying error, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoolError";
  }
}
