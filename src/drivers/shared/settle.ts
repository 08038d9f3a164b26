/**
 * Replies passed through the pool's settler (`ReplySettler` in
 * `src/driver.ts`), for the adapters that settle replies in their own
 * reaction: the pool then chains no promise of its own per query. Every path
 * of a query must end in exactly one of these calls.
 *
 * @module
 */
import type { DriverResult, ReplySettler } from "../../driver.ts";
import { rejected } from "./session.ts";

/**
 * A reply's result, through the settler when there is one.
 *
 * @param settler The pool's settler, if it gave one.
 * @param result The adapter's result.
 * @returns What the query resolves with.
 */
export function settledResult(
  settler: ReplySettler | undefined,
  result: DriverResult,
): DriverResult {
  return settler === undefined ? result : settler.ok(result);
}

/**
 * Fails a query from inside the adapter's reaction, through the settler
 * when there is one.
 *
 * @param settler The pool's settler, if it gave one.
 * @param err The adapter's error.
 * @throws What the settler threw, or `err`.
 */
export function settledFailure(settler: ReplySettler | undefined, err: unknown): never {
  if (settler !== undefined) settler.failed(err);
  throw err;
}

/**
 * A query refused before it was sent (a closed session, input that cannot
 * be sent), as a rejected promise that never counts as unhandled.
 *
 * @param settler The pool's settler, if it gave one.
 * @param err The adapter's error.
 * @returns The rejected promise.
 */
export function refusedVia(settler: ReplySettler | undefined, err: unknown): Promise<never> {
  if (settler === undefined) return rejected(err);
  try {
    settler.failed(err);
  } catch (thrown) {
    return rejected(thrown);
  }
  // A settler that did not throw broke its contract: the query still fails.
  return rejected(err);
}
