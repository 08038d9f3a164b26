/**
 * The error of a query the server (or the driver, before sending) rejected.
 *
 * @module
 */
import { PoolError } from "./pool_error.ts";

/** Server-side detail of a {@linkcode QueryError}. */
export interface QueryErrorDetails {
  /** SQLSTATE, e.g. `"42P01"`; `undefined` when the driver refused the query before sending it. */
  code?: string;
  /** The server's DETAIL field. */
  detail?: string;
  /** The server's HINT field. */
  hint?: string;
  /** 1-based character position of the error in the query text. */
  position?: number;
  /** The schema of the object concerned. */
  schema?: string;
  /** The table concerned. */
  table?: string;
  /** The column concerned. */
  column?: string;
  /** The constraint that was violated. */
  constraint?: string;
  /** The data type concerned. */
  dataType?: string;
  /** The driver's original error. */
  cause?: unknown;
}

/**
 * The server (or the driver, before sending) rejected a query. The connection
 * itself is still good.
 *
 * @example Tell a missing table by its SQLSTATE
 * ```ts
 * import { QueryError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("default", (db) => db.query("SELECT * FROM missing"));
 * } catch (err) {
 *   if (err instanceof QueryError && err.code === "42P01") console.log("no such table");
 * }
 * ```
 */
export class QueryError extends PoolError {
  /** SQLSTATE, e.g. `"57014"` for a statement timeout. */
  readonly code: string | undefined;
  /** The server's DETAIL field. */
  readonly detail: string | undefined;
  /** The server's HINT field. */
  readonly hint: string | undefined;
  /** 1-based character position of the error in the query text. */
  readonly position: number | undefined;
  /** The schema of the object concerned (the server's SCHEMA field). */
  readonly schema: string | undefined;
  /** The table concerned (TABLE field). */
  readonly table: string | undefined;
  /** The column concerned (COLUMN field). */
  readonly column: string | undefined;
  /** The constraint that was violated (CONSTRAINT field), e.g. for `23505`. */
  readonly constraint: string | undefined;
  /** The data type concerned (DATA TYPE field). */
  readonly dataType: string | undefined;
  /**
   * Builds the error.
   *
   * @param message The server's message.
   * @param details SQLSTATE and the server's other fields.
   */
  constructor(message: string, details: QueryErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "QueryError";
    this.code = details.code;
    this.detail = details.detail;
    this.hint = details.hint;
    this.position = details.position;
    this.schema = details.schema;
    this.table = details.table;
    this.column = details.column;
    this.constraint = details.constraint;
    this.dataType = details.dataType;
  }
}
