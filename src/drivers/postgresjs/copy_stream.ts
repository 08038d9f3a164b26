/**
 * A reply that is no result: when the server answers a query with the copy
 * sub-protocol (a `COPY` the refusal did not see, a malformed or hostile
 * server), postgres.js resolves the query with a Node stream instead of
 * rows, and that stream fails later, when the session ends, with an `error`
 * event nobody listens to: an uncaught exception or unhandled rejection that
 * ends the process. The adapter takes every such stream out of play here:
 * it listens for its errors and destroys it. The session, left mid-copy, is
 * of no further use.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
 *
 * @module
 */
import { QueryError } from "../../errors.ts";

/** The stream postgres.js hands out for the copy sub-protocol, as far as it is touched here. */
interface CopyStream {
  on?(event: "error", listener: (err: unknown) => void): unknown;
  destroy?(): unknown;
}

/**
 * Whether a postgres.js reply holds rows (a result, or one per statement).
 *
 * @param reply What the query resolved with.
 * @returns `false` for a copy stream (or anything else that is no result).
 */
export function isRows(reply: unknown): boolean {
  return Array.isArray(reply);
}

/**
 * Silences and destroys a reply that is no result, so that none of its
 * errors can escape.
 *
 * @param reply What the query resolved with, when {@linkcode isRows} said no.
 * @returns The error that explains the session's loss (code `0A000`).
 */
export function discardCopyStream(reply: unknown): QueryError {
  const stream = reply as CopyStream | null;
  try {
    stream?.on?.("error", ignore);
    stream?.destroy?.();
  } catch {
    // A stream that cannot even be destroyed goes with the session's socket.
  }
  return new QueryError(
    "The server answered with the copy sub-protocol (COPY), which the pool has no API for; the session was closed",
    { code: "0A000" },
  );
}

function ignore(): undefined {
  return undefined;
}
