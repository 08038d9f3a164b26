/**
 * The query calls both kinds of handler offer (`query`, `sql`,
 * `queryPrepared`), written once over each handler's own way of running a
 * statement: the `paramstyle: "pyformat"` translation lives here.
 *
 * @module
 */
import type { QueryResult } from "./handler.ts";
import { type QueryParams, toNumeric } from "../python/pyformat.ts";
import { queryPrepared } from "../python/sqlprepare.ts";
import { sqlQuery } from "./sql_tag.ts";

/** A handler's query calls, over its {@linkcode QueryCalls.run}. */
export abstract class QueryCalls {
  /** Whether the group's queries use `%s` / `%(name)s` placeholders. */
  protected abstract get pyformat(): boolean | undefined;

  /**
   * Runs one statement with `$n` placeholders on the handler's session.
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns The result.
   */
  protected abstract run<R>(
    text: string,
    params: readonly unknown[] | undefined,
  ): Promise<QueryResult<R>>;

  /**
   * Runs one statement (see `Handler.query`).
   *
   * @param text SQL text.
   * @param params Values, or named values in a pyformat group.
   * @returns The result.
   */
  query<R = Record<string, unknown>>(
    text: string,
    params?: QueryParams,
  ): Promise<QueryResult<R>> {
    if (params !== undefined && this.pyformat && typeof text === "string") {
      const numeric = toNumeric(text, params);
      if (numeric instanceof Error) return Promise.reject(numeric);
      return this.run<R>(numeric.text, numeric.params);
    }
    return this.run<R>(text, params as readonly unknown[] | undefined);
  }

  /**
   * Runs the statement `sqlprepare` set up (see `Handler.queryPrepared`).
   *
   * @param params Its values.
   * @returns What it returned.
   */
  queryPrepared<T = unknown>(params: readonly unknown[]): Promise<T> {
    return queryPrepared<T>((text, values) => this.run(text, values), params);
  }

  /**
   * Runs a tagged template (see `Handler.sql`).
   *
   * @param strings The template's literal parts.
   * @param values The interpolated values.
   * @returns The result.
   */
  sql<R = Record<string, unknown>>(
    strings: TemplateStringsArray,
    ...values: unknown[]
  ): Promise<QueryResult<R>> {
    // The tag builds `$n` text: it bypasses the pyformat translation.
    // `this?`: a destructured `const { sql } = db` must reject, not throw (sqlQuery says why).
    const db = this?.pyformat
      ? { query: <T>(t: string, p?: readonly unknown[]) => this.run<T>(t, p) }
      : this;
    return sqlQuery<R>(db, strings, values);
  }
}
