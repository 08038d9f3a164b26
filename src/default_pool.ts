/**
 * The default pool behind the top-level `init`, `withHandler`, `query` and `end`, as in
 * the Python module (`Connection.init(config)` once, then `Handler('group')`).
 *
 * @module
 */
import type { PoolConfigInput } from "./config/normalize.ts";
import { configFromEnv } from "./config/env.ts";
import type { Handler } from "./handler/handler.ts";
import type { QueryParams, QueryResult } from "./handler/handler.ts";
import type { QueryOptions } from "./handler/one_liners.ts";
import { createPool, type LeaseOptions, type Pool } from "./pool.ts";
import { PoolClosedError } from "./errors.ts";

let current: Pool | undefined;
// Set by end(), cleared by init(): an ended default pool stays ended, so that a
// late call cannot build a new one from DATABASE_URL (possibly another database).
let ended = false;

/**
 * Sets up the default pool used by the top-level {@linkcode withHandler} and
 * {@linkcode end}. Does no I/O. A pool set up before is ended first.
 *
 * @param config The configuration.
 * @returns The default pool.
 * @throws {ConfigError} When the configuration is invalid.
 *
 * @example Set up the default pool once, at startup
 * ```ts
 * import { init } from "@x/pgdbpool";
 * init({
 *   db: { host: "127.0.0.1", name: "app", user: "app", pass: "secret" },
 *   groups: { default: { connection_count: 10 } },
 * });
 * ```
 */
export function init(config: PoolConfigInput): Pool {
  const previous = current;
  current = createPool(config);
  ended = false;
  previous?.end();
  return current;
}

/**
 * The default pool; built from `DATABASE_URL` or the `PG*` variables when
 * {@linkcode init} was never called. After {@linkcode end}, there is none until
 * {@linkcode init} is called again.
 *
 * @returns The default pool.
 * @throws {ConfigError} When nothing configures it.
 * @throws {PoolClosedError} After {@linkcode end}, until {@linkcode init}.
 *
 * @example Read the default pool's figures
 * ```ts
 * import { defaultPool } from "@x/pgdbpool";
 * console.log(defaultPool().stats());
 * ```
 */
export function defaultPool(): Pool {
  if (current) return current;
  if (ended) throw new PoolClosedError();
  return current = createPool(configFromEnv());
}

/**
 * `withHandler` on the default pool: lease a connection of `group`, run `fn`,
 * commit or roll back, release.
 *
 * @typeParam T What `fn` returns.
 * @param group The group name.
 * @param fn The work.
 * @param options Abort signal and acquire timeout.
 * @returns What `fn` returned.
 * @throws {ConfigError} When no pool is configured (see {@linkcode init}).
 * @throws {PoolClosedError} After {@linkcode end}, until {@linkcode init}.
 * @throws See `Pool.withHandler`.
 *
 * @example One query on the default pool
 * ```ts
 * import { withHandler } from "@x/pgdbpool";
 * const one = await withHandler("default", async (db) => (await db.query("SELECT 1 AS one")).rows[0]);
 * ```
 */
export async function withHandler<T>(
  group: string,
  fn: (db: Handler) => T | Promise<T>,
  options?: LeaseOptions,
): Promise<T> {
  return await defaultPool().withHandler(group, fn, options);
}

/**
 * `query` on the default pool: one statement through {@linkcode withHandler}
 * on the group `default`, or `options.group`.
 *
 * @typeParam R The row shape.
 * @param text SQL text.
 * @param params Values for `$1`, `$2`… (pyformat groups: an array for `%s`, an object for `%(name)s`)
 * @param options The group, abort signal and acquire timeout.
 * @returns The statement's result.
 * @throws {ConfigError} When no pool is configured (see {@linkcode init}).
 * @throws {PoolClosedError} After {@linkcode end}, until {@linkcode init}.
 * @throws See `Pool.query`.
 *
 * @example One statement on the default pool
 * ```ts
 * import { query } from "@x/pgdbpool";
 * const { rows } = await query("SELECT $1::int AS n", [42]);
 * ```
 */
export async function query<R = Record<string, unknown>>(
  text: string,
  params?: QueryParams,
  options?: QueryOptions,
): Promise<QueryResult<R>> {
  return await defaultPool().query<R>(text, params, options);
}

/**
 * Ends the default pool (if one was set up). Until {@linkcode init} is called
 * again, {@linkcode withHandler} rejects with `PoolClosedError`: no new pool is
 * built from the environment.
 *
 * @returns When every session is closed.
 *
 * @example End the default pool before the process exits
 * ```ts
 * import { end } from "@x/pgdbpool";
 * await end();
 * ```
 */
export async function end(): Promise<void> {
  const pool = current;
  current = undefined;
  ended = true;
  await pool?.end();
}
