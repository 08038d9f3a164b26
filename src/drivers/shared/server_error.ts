/**
 * A server ErrorResponse, as each client library exposes it, read into one
 * shape, and turned into a {@linkcode QueryError} with the same fields and
 * `cause` on every adapter.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import { QueryError } from "../../errors.ts";

/** The fields of a server ErrorResponse, as strings (absent when the server did not send them). */
export interface ServerErrorFields {
  /** SQLSTATE. */
  code: string;
  /** Severity: `ERROR`, `FATAL`, `PANIC`. */
  severity?: string;
  /** DETAIL. */
  detail?: string;
  /** HINT. */
  hint?: string;
  /** POSITION (1-based, decimal). */
  position?: string;
  /** SCHEMA NAME. */
  schema?: string;
  /** TABLE NAME. */
  table?: string;
  /** COLUMN NAME. */
  column?: string;
  /** CONSTRAINT NAME. */
  constraint?: string;
  /** DATA TYPE NAME. */
  dataType?: string;
}

type Bag = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * Reads a server error from any bundled client: postgres.js
 * (`PostgresError`, `schema_name`…), node-postgres (`DatabaseError`,
 * `schema`…), Bun.SQL (SQLSTATE in `errno`) and deno-postgres (`fields`).
 *
 * @param err Whatever the client rejected with.
 * @returns The fields, or `undefined` when it is not an error the server sent.
 */
export function serverError(err: unknown): ServerErrorFields | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as unknown as Bag;
  // deno-postgres keeps the fields apart.
  const b = (err.name === "PostgresError" && typeof e.fields === "object" && e.fields !== null)
    ? e.fields as Bag
    : e;
  // Bun keeps its own code in `code` and the SQLSTATE in `errno`.
  const code = typeof b.errno === "string" && SQLSTATE.test(b.errno) ? b.errno : b.code;
  if (typeof code !== "string" || !SQLSTATE.test(code)) return undefined;
  // Without a severity, a five-character code is a driver's own only for
  // postgres.js and Bun, whose server errors are named PostgresError.
  if (b.severity === undefined && err.name !== "PostgresError") return undefined;
  return {
    code,
    severity: str(b.severity),
    detail: str(b.detail),
    hint: str(b.hint),
    position: str(b.position) ?? (typeof b.position === "number" ? String(b.position) : undefined),
    // postgres.js's names first: on Bun every Error has a numeric `line` and `column` of its own.
    schema: str(b.schema_name) ?? str(b.schema),
    table: str(b.table_name) ?? str(b.table),
    column: str(b.column_name) ?? str(b.column),
    constraint: str(b.constraint_name) ?? str(b.constraint),
    // deno-postgres (0.19) types the field as dataType but stores it as dataTypeName.
    dataType: str(b["data type_name"]) ?? str(b.dataType) ?? str(b.dataTypeName) ??
      str(b.datatype),
  };
}

/**
 * Whether a server error's severity means the server is ending the session
 * (`FATAL`, `PANIC`): the connection is gone even if the socket has not
 * closed yet.
 *
 * @param severity The severity.
 * @returns `true` for `FATAL` and `PANIC`.
 */
export function endsSession(severity: unknown): boolean {
  return severity === "FATAL" || severity === "PANIC";
}

/**
 * Builds the {@linkcode QueryError} for an error the server sent.
 *
 * @param err The driver's error; its message becomes the message and it becomes the `cause`.
 * @param fields The fields read by {@linkcode serverError}.
 * @returns The normalised error; `position` is a number or `undefined`.
 */
export function toQueryError(err: Error, fields: ServerErrorFields): QueryError {
  const position = fields.position === undefined ? undefined : Number(fields.position);
  return new QueryError(err.message, {
    code: fields.code,
    detail: fields.detail,
    hint: fields.hint,
    position: position !== undefined && Number.isInteger(position) ? position : undefined,
    schema: fields.schema,
    table: fields.table,
    column: fields.column,
    constraint: fields.constraint,
    dataType: fields.dataType,
    cause: err,
  });
}

/**
 * The {@linkcode QueryError} for input the client refused before sending
 * anything (a value it cannot serialise): no SQLSTATE, the session intact.
 *
 * @param err The client's error.
 * @returns The error, with `err` as its `cause`.
 */
export function refusedQuery(err: unknown): QueryError {
  const message = err instanceof Error ? err.message : String(err);
  return new QueryError(`Cannot send the query: ${message}`, { cause: err });
}
