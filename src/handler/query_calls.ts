/**
 * The query calls both kinds of handler offer (`query`, `sql`,
 * `queryPrepared`), written once over each handler's own way of running a
 * statement: the `paramstyle: "pyformat"` translation lives here. They are
 * installed on each handler class's prototype rather than inherited: a
 * class's every level of inheritance costs its constructor time, and a
 * handler is made per lease.
 *
 * @module
 */
import type { Handler, QueryResult } from "./handler.ts";
import { type QueryParams, toNumeric } from "../python/pyformat.ts";
import { queryPrepared } from "../python/sqlprepare.ts";
import { sqlQuery } from "./sql_tag.ts";
import { nulInText } from "./query_args.ts";

/** What a handler provides for its query calls. */
export interface QueryRunner {
  /** Whether the group's queries use `%s` / `%(name)s` placeholders. */
  readonly pyformat: boolean | undefined;
  /**
   * Runs one statement with `$n` placeholders on the handler's session.
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns The result.
   */
  run<R>(text: string, params: readonly unknown[] | undefined): Promise<QueryResult<R>>;
}

/** The calls installed, as `Handler` declares them. */
export type QueryCalls = Pick<Handler, "query" | "sql" | "queryPrepared">;

const calls = {
  query<R>(this: QueryRunner, text: string, params?: QueryParams): Promise<QueryResult<R>> {
    if (params !== undefined && this.pyformat && typeof text === "string") {
      // Found in the caller's text: its offset in the $n translation would mislead.
      const nulAt = text.indexOf("\0");
      if (nulAt >= 0) return Promise.reject(nulInText(nulAt));
      const numeric = toNumeric(text, params);
      if (numeric instanceof Error) return Promise.reject(numeric);
      return this.run<R>(numeric.text, numeric.params);
    }
    return this.run<R>(text, params as readonly unknown[] | undefined);
  },

  queryPrepared<T>(this: QueryRunner, params: readonly unknown[]): Promise<T> {
    return queryPrepared<T>((text, values) => this.run(text, values), params);
  },

  sql<R>(
    this: QueryRunner | undefined,
    strings: TemplateStringsArray,
    ...values: unknown[]
  ): Promise<QueryResult<R>> {
    // The tag builds `$n` text: it bypasses the pyformat translation.
    // `this?`: a destructured `const { sql } = db` must reject, not throw (sqlQuery says why).
    const db = this?.pyformat
      ? { query: <T>(t: string, p?: readonly unknown[]) => this!.run<T>(t, p) }
      : this as QueryCalls | undefined;
    return sqlQuery<R>(db, strings, values);
  },
};

/**
 * Installs `query`, `sql` and `queryPrepared` on a handler class (declare
 * them in the class with `declare`), as methods are: not enumerable.
 *
 * @param handlerClass A class whose instances are {@linkcode QueryRunner}s.
 */
export function installQueryCalls(handlerClass: { prototype: QueryRunner }): void {
  for (const [name, fn] of Object.entries(calls)) {
    Object.defineProperty(handlerClass.prototype, name, {
      value: fn,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}
