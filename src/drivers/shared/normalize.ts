/**
 * Small helpers the bundled adapters share to give every driver one shape:
 * the command verb, the server error as a {@linkcode QueryError}, and the
 * choice between the simple and the extended query protocol.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { DriverResult } from "../../driver.ts";
import { QueryError } from "../../errors.ts";

/** The fields of a server ErrorResponse, as drivers expose them (strings, possibly absent). */
export interface ServerErrorFields {
  /** SQLSTATE. */
  code?: string;
  /** DETAIL. */
  detail?: string;
  /** HINT. */
  hint?: string;
  /** 1-based character position, as the decimal string the server sends (or a number). */
  position?: string | number;
}

/**
 * Builds the {@linkcode QueryError} for an error the server sent.
 *
 * @param err The driver's error; its message becomes the message and it becomes the `cause`.
 * @param fields SQLSTATE, DETAIL, HINT and POSITION as the driver exposes them.
 * @returns The normalised error; `position` is a number or `undefined`.
 */
export function toQueryError(err: Error, fields: ServerErrorFields): QueryError {
  const position = fields.position === undefined || fields.position === ""
    ? undefined
    : Number(fields.position);
  return new QueryError(err.message, {
    code: fields.code,
    detail: fields.detail,
    hint: fields.hint,
    position: position !== undefined && Number.isInteger(position) ? position : undefined,
    cause: err,
  });
}

/**
 * Whether a server error's severity means the server is ending the session
 * (`FATAL`, `PANIC`): the connection is gone even if the socket has not
 * closed yet.
 *
 * @param severity The non-localised severity (`V` field), or the localised one (`S`).
 * @returns `true` for `FATAL` and `PANIC`.
 */
export function endsSession(severity: unknown): boolean {
  return severity === "FATAL" || severity === "PANIC";
}

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
 * `host:port` of an endpoint for messages (a Unix socket directory shows as is).
 *
 * @param host Host name, IP address or socket directory.
 * @param port TCP port.
 * @returns The label, never with credentials.
 */
export function endpointLabel(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("/") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Runs `connecting` against a deadline. On timeout, calls `onTimeout` (which
 * must tear the half-open session down) and rejects with an error coded
 * `CONNECT_TIMEOUT`. A non-positive or non-finite `timeoutMs` means no deadline.
 *
 * @param connecting The connect attempt.
 * @param timeoutMs The deadline in milliseconds.
 * @param label `host:port`, for the message.
 * @param onTimeout Called once when the deadline passes first.
 * @returns What `connecting` resolves to.
 */
export function withConnectTimeout<T>(
  connecting: Promise<T>,
  timeoutMs: number,
  label: string,
  onTimeout: () => void,
): Promise<T> {
  if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) return connecting;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(
        Object.assign(
          new Error(`Connecting to ${label} timed out after ${timeoutMs} ms`),
          { code: "CONNECT_TIMEOUT" },
        ),
      );
    }, timeoutMs);
    connecting.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
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
 * @returns Rows, row count and command verb.
 */
export function taggedResult(result: TaggedRows): DriverResult {
  let last = result;
  // Several statements (simple protocol) resolve to an array of results.
  if (last.command === undefined && last.length > 0 && Array.isArray(last[0])) {
    last = last[last.length - 1] as unknown as TaggedRows;
  }
  const count = last.count;
  return {
    rows: last,
    // Rows returned, else rows affected. (Tags without a count, such as SHOW
    // or EXPLAIN, still return rows; Bun then reports a count of 0.)
    rowCount: last.length > 0 ? last.length : typeof count === "number" ? count : 0,
    command: commandVerb(last.command),
  };
}

/**
 * The error a query on an ended session rejects with (before anything is sent).
 *
 * @param driver The driver's name, e.g. `"postgres.js"`.
 * @param label `host:port`.
 * @param cause Why the session ended, if known.
 * @param code The driver's own code for a closed connection.
 * @returns The error.
 */
export function sessionEnded(driver: string, label: string, cause: unknown, code: string): Error {
  return Object.assign(
    new Error(`Cannot query: the ${driver} session to ${label} has ended`, { cause }),
    { code },
  );
}
