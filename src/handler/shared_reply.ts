/**
 * A pipelined group's replies: counted on the shared session (the
 * housekeeping sweep takes one that never answers for dead) and translated
 * into the pool's errors, through one settler per session, inside the
 * driver's own reaction when it settles replies.
 *
 * @module
 */
import type { DriverResult, ReplySettler } from "../driver.ts";
import { QueryError } from "../errors.ts";
import { namedStatementHint } from "../endpoints/transaction_pooler.ts";
import { connectionLost, queryFailure } from "./failures.ts";
import { sendThrough } from "./plain_reply.ts";
import type { Shared, SharedOwner } from "./shared_handler.ts";

/**
 * Sends one statement on a shared session and settles its reply.
 *
 * @param group The session's group.
 * @param shared The session.
 * @param text SQL text.
 * @param params Values for `$1`, `$2`…
 * @returns The result, or the pool's error for the failure.
 */
export function sendShared(
  group: SharedOwner,
  shared: Shared,
  text: string,
  params: readonly unknown[] | undefined,
): Promise<DriverResult> {
  shared.busy++;
  return sendThrough(shared.connection, text, params, shared.settler ??= settlerOf(group, shared));
}

function settlerOf(group: SharedOwner, shared: Shared): ReplySettler {
  return {
    ok(result) {
      shared.busy--;
      shared.progress++;
      return result;
    },
    failed(err): never {
      shared.busy--;
      shared.progress++;
      if (!shared.connection.closed) {
        const failure = queryFailure(err);
        if (failure instanceof QueryError) group.statementFailed(shared.endpoint, failure.code);
        throw namedStatementHint(failure, false);
      }
      group.broken(shared);
      throw connectionLost(group.label(shared.endpoint), err);
    },
  };
}
