/**
 * The one-statement call pg-pool users reach for first: `query(text, params,
 * options)` runs through `withHandler` on one group, `default` unless
 * `options.group` names another.
 *
 * @module
 */
import type { Handler, QueryParams, QueryResult } from "./handler.ts";
import type { LeaseOptions } from "./lease_options.ts";
import { invalidQuery } from "./query_args.ts";

/** Options of `pool.query` and the top-level `query`. */
export interface QueryOptions extends LeaseOptions {
  /** The group to run the statement on; `"default"` when absent. */
  group?: string;
}

/** The `withHandler` a one-liner runs through (a pool's, bound). */
export type WithHandlerFn = <T>(
  group: string,
  fn: (db: Handler) => T | Promise<T>,
  options?: LeaseOptions,
) => Promise<T>;

/**
 * Runs one statement through `withHandler` on `options.group` (default
 * `"default"`): leased, run, committed or rolled back, released.
 *
 * @typeParam R The row shape.
 * @param withHandler The pool's `withHandler`, bound.
 * @param text SQL text.
 * @param params Values for `$1`, `$2`… (pyformat groups: an array for `%s`, an object for `%(name)s`)
 * @param options The group, abort signal and acquire timeout.
 * @returns The statement's result.
 * @throws {TypeError} `options.group`, `text` or `params` is of the wrong type (nothing is leased).
 * @throws See `Pool.withHandler` and `Handler.query`.
 *
 * @example One statement on a pool's `jobs` group
 * ```ts
 * import { createPool } from "@x/pgdbpool";
 * const pool = createPool({ db: "postgres://localhost/app", groups: { jobs: { connection_count: 2 } } });
 * const { rows } = await pool.query("SELECT $1::int AS n", [1], { group: "jobs" });
 * ```
 */
export function queryThrough<R = Record<string, unknown>>(
  withHandler: WithHandlerFn,
  text: string,
  params?: QueryParams,
  options?: QueryOptions,
): Promise<QueryResult<R>> {
  const group = options?.group ?? "default";
  // Checked before the lease, so a bad call never opens a session.
  const invalid = typeof group === "string"
    // Named params (an object) are for pyformat groups: the handler checks them.
    ? invalidQuery(text, isNamed(params) ? undefined : params)
    : new TypeError(`Invalid group: expected a group name (string), received ${typeof group}`);
  if (invalid) return Promise.reject(invalid);
  return withHandler(group, (db) => db.query<R>(text, params), options);
}

function isNamed(params: QueryParams | undefined): boolean {
  return typeof params === "object" && params !== null && !Array.isArray(params);
}
