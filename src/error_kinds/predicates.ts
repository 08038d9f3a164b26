/**
 * The questions callers ask of an error: is the connection gone, was the
 * login refused, may a retry succeed.
 *
 * @module
 */
import { CommitUnknownError, ConnectionError, OfflineError } from "./connection_errors.ts";
import { QueryError } from "./query_error.ts";
import { AcquireTimeoutError, PoolOverloadedError } from "./capacity_errors.ts";

/**
 * Whether the error means the connection is gone (the pool dropped it).
 *
 * @param err Any thrown value.
 * @returns `true` for a {@linkcode ConnectionError} (including `CommitUnknownError`).
 *
 * @example An error that is not about the connection
 * ```ts
 * import { isConnectionBroken } from "@x/pgdbpool";
 * console.log(isConnectionBroken(new Error("x"))); // false
 * ```
 */
export function isConnectionBroken(err: unknown): boolean {
  return err instanceof ConnectionError;
}

/**
 * Whether the server answered and refused the login: a wrong password
 * (`28P01`), a role or authorisation problem (class `28`), or a missing
 * database (`3D000`). Not an outage, and retrying cannot help.
 *
 * @param err Any thrown value.
 * @returns `true` for a {@linkcode ConnectionError} whose `code` is such a SQLSTATE.
 *
 * @example Tell a wrong password from an outage
 * ```ts
 * import { ConnectionError, isLoginRefused } from "@x/pgdbpool";
 * const err = new ConnectionError("password authentication failed", "db1:5432", {
 *   code: "28P01",
 *   reached: true,
 * });
 * console.log(isLoginRefused(err)); // true
 * ```
 */
export function isLoginRefused(err: unknown): boolean {
  if (!(err instanceof ConnectionError)) return false;
  const code = err.code;
  return code !== undefined && (code.startsWith("28") || code === "3D000") && code.length === 5;
}

// SQLSTATEs worth retrying: serialization failure, deadlock, and admin shutdown classes.
const RETRYABLE_SQLSTATES = new Set(["40001", "40P01", "57P01", "57P02", "57P03"]);

/**
 * Whether running the same work again may succeed: a lost connection (but not
 * a commit of unknown outcome), an offline or exhausted pool, a serialization
 * failure or a deadlock.
 *
 * @param err Any thrown value.
 * @returns `true` when a retry is safe and may succeed.
 *
 * @example Retry a call up to three times when it may succeed
 * ```ts
 * import { isRetryable, withHandler } from "@x/pgdbpool";
 * for (let attempt = 0; ; attempt++) {
 *   try {
 *     await withHandler("default", (db) => db.query("SELECT 1"));
 *     break;
 *   } catch (err) {
 *     if (attempt >= 3 || !isRetryable(err)) throw err;
 *   }
 * }
 * ```
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof CommitUnknownError || isLoginRefused(err)) return false;
  if (err instanceof ConnectionError || err instanceof OfflineError) return true;
  if (err instanceof AcquireTimeoutError || err instanceof PoolOverloadedError) return true;
  return err instanceof QueryError && err.code !== undefined && RETRYABLE_SQLSTATES.has(err.code);
}
