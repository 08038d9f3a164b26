/**
 * Driver errors mapped to the pool's, in one place for every kind of
 * handler: a lost session is a `ConnectionError`, anything else a
 * `QueryError` carrying the driver's error as `cause`.
 *
 * @module
 */
import { ConnectionError, PoolError, QueryError } from "../errors.ts";

/**
 * The error a caller sees for a query whose session was lost.
 *
 * @param label The endpoint's label.
 * @param err What the driver threw.
 * @returns A `ConnectionError` with `err` as its cause.
 */
export function connectionLost(label: string, err: unknown): ConnectionError {
  return new ConnectionError(
    `Query failed on ${label}: the connection was lost: ${messageOf(err)}`,
    label,
    { cause: err },
  );
}

/**
 * The error a caller sees for a query that failed on a live session.
 *
 * @param err What the driver threw.
 * @returns `err` itself when it is already a `PoolError`, else a `QueryError` with it as cause.
 */
export function queryFailure(err: unknown): PoolError {
  return err instanceof PoolError ? err : new QueryError(messageOf(err), { cause: err });
}

/**
 * The message of anything thrown.
 *
 * @param err What was thrown.
 * @returns Its message, or its string form.
 */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
