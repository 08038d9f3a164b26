/**
 * One result shape from every adapter: the command verb, plain-array rows,
 * and the choice between the simple and the extended query protocol.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { DriverResult } from "../../driver.ts";

/**
 * The verb of a command tag: its first word, upper case as the server sends
 * it. `"CREATE TABLE"` becomes `"CREATE"`, `"START TRANSACTION"` becomes
 * `"START"`; an empty query (no tag) gives `""`.
 *
 * @param tag The command tag without its row counts, as the driver reports it.
 * @returns The first word of the tag, or `""`.
 */
export function commandVerb(tag: string | null | undefined): string {
  if (!tag) return "";
  const space = tag.indexOf(" ");
  return space === -1 ? tag : tag.slice(0, space);
}

/**
 * Whether the text is at most one statement, judged cheaply: no `;` except
 * trailing ones (and whitespace). Such text can go through the extended
 * protocol (a named prepared statement); anything else goes through the
 * simple protocol, which is correct for every parameterless text, several
 * statements included. A `;` inside a literal or comment only costs the
 * prepared path, never correctness.
 *
 * @param text SQL text.
 * @returns `true` when the text can be sent as one prepared statement.
 */
export function isSingleStatement(text: string): boolean {
  const semi = text.indexOf(";");
  if (semi === -1) return true;
  for (let i = semi + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // ; space \t \n \r
    if (c !== 59 && c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

/**
 * The rows as a plain `Array` (postgres.js and Bun.SQL hand out subclasses
 * carrying their own fields): what every adapter returns.
 *
 * @param rows The driver's rows.
 * @returns A plain array holding the same row objects.
 */
export function plainRows(rows: ArrayLike<Record<string, unknown>>): Record<string, unknown>[] {
  const n = rows.length;
  const out: Record<string, unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = rows[i];
  return out;
}

/** A driver result: an array of rows carrying the tag's command and count (postgres.js, Bun.SQL). */
export type TaggedRows = Record<string, unknown>[] & {
  command?: string | null;
  count?: number | null;
};

/**
 * Turns a postgres.js or Bun.SQL result into a {@linkcode DriverResult}: the
 * last statement's when several ran; rows returned, else rows affected.
 *
 * @param result The driver's result.
 * @returns Plain-array rows, row count and command verb.
 */
export function taggedResult(result: TaggedRows): DriverResult {
  let last = result;
  // Several statements (simple protocol) resolve to an array of results.
  if (last.command === undefined && last.length > 0 && Array.isArray(last[0])) {
    last = last[last.length - 1] as unknown as TaggedRows;
  }
  const count = last.count;
  return {
    rows: plainRows(last),
    // Rows returned, else rows affected. (Tags without a count, such as SHOW
    // or EXPLAIN, still return rows; Bun then reports a count of 0.)
    rowCount: last.length > 0 ? last.length : typeof count === "number" ? count : 0,
    command: commandVerb(last.command),
  };
}
