/**
 * Checks of a query's arguments, made before anything is sent, so a bad call
 * never reaches (and never disturbs) the session.
 *
 * @module
 */
import { QueryError } from "../errors.ts";

// The protocol counts parameters in 16 bits (65535); postgres.js refuses 65534 and up with
// its own error. One limit, the lowest, for every driver.
const MAX_PARAMS = 65533;

/**
 * Checks a query's arguments.
 *
 * @param text SQL text.
 * @param params Values for `$1`, `$2`…
 * @returns The error to reject with, or `undefined` when the call is fine.
 */
export function invalidQuery(text: unknown, params: unknown): Error | undefined {
  if (typeof text !== "string") {
    return new TypeError(`Invalid query text: expected a string, received ${typeof text}`);
  }
  if (params === undefined) return undefined;
  if (!Array.isArray(params)) {
    return new TypeError(`Invalid query params: expected an array, received ${typeof params}`);
  }
  if (params.length > MAX_PARAMS) {
    return new QueryError(
      `Cannot send ${params.length} parameters in one query: at most ${MAX_PARAMS} are allowed`,
      { code: "54023" },
    );
  }
  return undefined;
}

/**
 * The error for a query text holding a NUL character: PostgreSQL ends a text
 * at NUL, so sent as is it would cut the message and cost the session.
 *
 * @param offset Where the NUL is.
 * @returns A `QueryError` coded 22021 (character_not_in_repertoire).
 */
export function nulInText(offset: number): QueryError {
  return new QueryError(
    `Cannot send a query text holding a NUL character (U+0000) at offset ${offset}: ` +
      "PostgreSQL ends its texts at NUL; send binary data as a Uint8Array parameter (bytea)",
    { code: "22021" },
  );
}
