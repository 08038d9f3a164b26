/**
 * What `fn` receives: the {@linkcode Handler} interface and its query result.
 * The pool's implementation is `PoolHandler` (`pool_handler.ts`); pipelined
 * groups hand out `SharedHandler` (`pipelined_group.ts`).
 *
 * @module
 */
import type { EndpointInfo } from "../endpoints/endpoint_set.ts";
import type { QueryParams } from "../python/pyformat.ts";

export type { QueryParams };

/** Rows and counts of one query. */
export interface QueryResult<R = Record<string, unknown>> {
  /** The rows, as objects keyed by column name. */
  rows: R[];
  /** Rows returned or affected. */
  rowCount: number;
  /** Upper-case verb of the command tag: `"SELECT"`, `"INSERT"`… */
  command: string;
}

/**
 * A leased connection, as `fn` of `withHandler` (or `pool.lease`) gets it.
 * It is valid until released; after that every method throws
 * {@linkcode HandlerReleasedError}.
 *
 * @example A typed row from a parameterised query
 * ```ts
 * import { withHandler } from "@x/pgdbpool";
 * const n = await withHandler("default", async (db) => {
 *   const { rows } = await db.query<{ n: number }>("SELECT $1::int AS n", [42]);
 *   return rows[0].n;
 * });
 * ```
 */
export interface Handler {
  /**
   * Runs one statement with `$1`-style parameters (in a group with
   * `paramstyle: "pyformat"`: `%s` with an array, `%(name)s` with an object,
   * `%%` for a literal `%`). In a group with `autocommit: false`, the first
   * query opens the transaction.
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`… (pyformat: for `%s`, or by name for `%(name)s`).
   * @returns Rows, row count and command.
   * @throws {QueryError} The server rejected the statement (SQLSTATE in `code`).
   * @throws {QueryParamsError} pyformat: the params do not fit the placeholders (nothing was sent).
   * @throws {ConnectionError} The session was lost.
   * @throws {HandlerReleasedError} The handler was released.
   */
  query<R = Record<string, unknown>>(
    text: string,
    params?: QueryParams,
  ): Promise<QueryResult<R>>;
  /**
   * The Python module's `query_prepared`: calls
   * `"SQLPrepare"."ExecuteQuery"(...params)` (the `prep_queries` extension;
   * the group's `sqlprepare: true` prepares its statements on each new
   * session) and returns the first column of the first row. The request
   * data (the third of four arguments) may be JSON text or an object.
   *
   * @example Run a stored, prepared query
   * ```ts
   * import { withHandler } from "@x/pgdbpool";
   * const rows = await withHandler("prepared", (db) =>
   *   db.queryPrepared(["S", "Test_Query_1", { val1: 20, val2: "Col2-Data2" }, ["val1", "val2"]]));
   * ```
   *
   * @param params The arguments of `"SQLPrepare"."ExecuteQuery"`.
   * @returns The first column of the first row (`undefined` without a row).
   * @throws {QueryError} The server rejected the call (e.g. 26000: the statement is not prepared).
   * @throws {TypeError} `params` is not an array.
   */
  queryPrepared<T = unknown>(params: readonly unknown[]): Promise<T>;
  /**
   * The same as {@linkcode Handler.query}, written as a tagged template:
   * each `${value}` is sent as a `$n` parameter, never spliced into the text,
   * so values need no quoting or escaping. An array value is one (array)
   * parameter (`= ANY(${ids})`); a `sqlFragment` value is inlined with its
   * own values as parameters. Identifiers (table or column names) cannot be
   * parameters: write them in the template's text.
   *
   * @example A typed row by id
   * ```ts
   * import { withHandler } from "@x/pgdbpool";
   * const id = 42;
   * const { rows } = await withHandler("default", (db) =>
   *   db.sql<{ name: string }>`SELECT name FROM users WHERE id = ${id}`);
   * // sends: SELECT name FROM users WHERE id = $1   with params [42]
   * ```
   *
   * @param strings The template's literal parts.
   * @param values The interpolated values.
   * @returns Rows, row count and command, as `query` returns them.
   * @throws {TypeError} Called as a plain function instead of a tagged template.
   * @throws See {@linkcode Handler.query}.
   */
  sql<R = Record<string, unknown>>(
    strings: TemplateStringsArray,
    ...values: unknown[]
  ): Promise<QueryResult<R>>;
  /**
   * Commits the open transaction, if any; the next query opens a new one
   * (in groups with `autocommit: false`).
   *
   * @throws {QueryError} With code `25P02` when the transaction had failed and was rolled back.
   * @throws {CommitUnknownError} The connection was lost while COMMIT was in flight.
   */
  commit(): Promise<void>;
  /** Rolls back the open transaction, if any. */
  rollback(): Promise<void>;
  /**
   * Tells the pool that this handler changed session state it cannot see
   * (inside a function or a `DO` block, say), so that release resets it all.
   * Statements the pool can see (`SET`, `set_config`, temp tables, `PREPARE`,
   * advisory locks, `LISTEN`, cursors `WITH HOLD`) need no call.
   */
  markDirty(): void;
  /** The endpoint this session is connected to: its id, host, port and role as last learned. */
  readonly endpoint: EndpointInfo;
  /** The group it was leased from. */
  readonly group: string;
  /**
   * Returns the session to the pool, rolling back anything uncommitted.
   * A second call does nothing.
   */
  release(): Promise<void>;
  /** Same as {@linkcode Handler.release}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
