/**
 * Replies passed through the pool's settler (`ReplySettler` in
 * `src/driver.ts`), for the adapters that settle replies in their own
 * reaction: the pool then chains no promise of its own per query. Every path
 * of a query must end in exactly one of these calls.
 *
 * @module
 */
import type { DriverResult, ReplySettler } from "../../driver.ts";
import { refusal } from "./params.ts";
import { rejected, type Session } from "./session.ts";

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

/**
 * The refusal of a query that must not be sent (its session has ended, or
 * its input cannot be sent: see `refusal`), settled through the settler.
 *
 * @param session The query's session.
 * @param text SQL text.
 * @param params Values for `$1`, `$2`…
 * @param settler The pool's settler, if it gave one.
 * @returns The rejected promise, or `undefined` when the query may go.
 */
export function refusedUpFront(
  session: Session,
  text: string,
  params: readonly unknown[] | undefined,
  settler: ReplySettler | undefined,
): Promise<never> | undefined {
  if (session.closed) return refusedVia(settler, session.ended());
  const refused = refusal(text, params);
  return refused === undefined ? undefined : refusedVia(settler, refused);
}
