/**
 * Errors of a caller's input: an invalid config, an unknown group, a
 * released handler, parameters that do not fit their placeholders.
 *
 * @module
 */
import { PoolError } from "./pool_error.ts";

/**
 * The configuration is invalid: the message names the key and what was expected.
 *
 * @example Read the path of the key that is wrong
 * ```ts
 * import { ConfigError, createPool } from "@x/pgdbpool";
 * try {
 *   createPool({ db: "postgres://h/db", groups: { g: { connection_count: 0 } } });
 * } catch (err) {
 *   if (!(err instanceof ConfigError)) throw err;
 *   console.log(err.path); // "groups.g.connection_count"
 * }
 * ```
 */
export class ConfigError extends PoolError {
  /** Dotted path of the offending key, e.g. `groups.reports.connection_count`. */
  readonly path: string;
  /**
   * Builds a configuration error.
   *
   * @param path Dotted path of the offending key (`""` for the whole config).
   * @param message What was expected and what was received.
   */
  constructor(path: string, message: string) {
    super(path ? `Invalid config "${path}": ${message}` : `Invalid config: ${message}`);
    this.name = "ConfigError";
    this.path = path;
  }
}

/**
 * A group name that the configuration does not define.
 *
 * @example A group the config does not define
 * ```ts
 * import { UnconfiguredGroupError } from "@x/pgdbpool";
 * const err = new UnconfiguredGroupError("reports", ["default"]);
 * console.log(err.message);
 * ```
 */
export class UnconfiguredGroupError extends PoolError {
  /** The group that was asked for. */
  readonly group: string;
  /**
   * Builds the error.
   *
   * @param group The unknown group name.
   * @param known The configured group names.
   */
  constructor(group: string, known: readonly string[]) {
    super(
      `Cannot lease from group "${group}": it is not configured (configured: ${
        known.map((g) => `"${g}"`).join(", ") || "none"
      })`,
    );
    this.name = "UnconfiguredGroupError";
    this.group = group;
  }
}

/**
 * A handler was used after it was released (or after `withHandler` returned).
 *
 * @example The message of a query on a released handler
 * ```ts
 * import { HandlerReleasedError } from "@x/pgdbpool";
 * const err = new HandlerReleasedError("query");
 * console.log(err.message);
 * ```
 */
export class HandlerReleasedError extends PoolError {
  /**
   * Builds the error.
   *
   * @param action The method that was called, e.g. `"query"`.
   */
  constructor(action: string) {
    super(`Cannot ${action}: the handler has been released`);
    this.name = "HandlerReleasedError";
  }
}

/**
 * A query's parameters do not fit its placeholders (`paramstyle: "pyformat"`):
 * a wrong count, a missing name, an array where names are used, or a `%`
 * that is no placeholder. Thrown before anything is sent.
 *
 * @example A missing named parameter
 * ```ts
 * import { QueryParamsError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("py", (db) => db.query("SELECT %(id)s", { ID: 1 }));
 * } catch (err) {
 *   if (err instanceof QueryParamsError) console.log(err.message); // names "id"
 * }
 * ```
 */
export class QueryParamsError extends PoolError {
  /**
   * Builds the error.
   *
   * @param message What does not fit, and where.
   */
  constructor(message: string) {
    super(message);
    this.name = "QueryParamsError";
  }
}
