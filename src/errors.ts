/**
 * The error hierarchy. Every error the pool raises is a {@linkcode PoolError};
 * errors thrown by the caller's own `fn` pass through unchanged.
 *
 * @module
 */

/**
 * Base class of every error raised by the pool.
 *
 * @example Telling pool errors from the caller's own
 * ```ts
 * import { PoolError } from "@x/pgdbpool";
 * function isFromPool(err: unknown): boolean {
 *   return err instanceof PoolError;
 * }
 * ```
 */
export class PoolError extends Error {
  /**
   * Builds a pool error.
   *
   * @param message What failed, with the detail after a colon.
   * @param options The underlying error, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoolError";
  }
}

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
 * The connection to the server failed or was lost. The session is gone; the
 * pool has dropped it. Retrying on another connection is safe unless the error
 * is a {@linkcode CommitUnknownError}.
 *
 * @example A session lost in the middle of a call
 * ```ts
 * import { ConnectionError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("default", (db) => db.query("SELECT 1"));
 * } catch (err) {
 *   if (err instanceof ConnectionError) console.log("connection lost:", err.message);
 * }
 * ```
 */
export class ConnectionError extends PoolError {
  /** `host:port` of the endpoint, never with credentials. */
  readonly endpoint: string;
  /**
   * The SQLSTATE when the server refused or ended the session (`28P01`,
   * `3D000`, `57P01`…), else the driver's own code when it has one
   * (`ECONNREFUSED`, `CONNECT_TIMEOUT`), else `undefined`.
   */
  readonly code: string | undefined;
  /**
   * `true` when a PostgreSQL server answered the startup (then refused the
   * login, or the session was cut), `false` when none did: a refused TCP
   * connection, no such host, a timeout, TLS that could not be set up, or
   * not known.
   */
  readonly reached: boolean;
  /**
   * Builds the error.
   *
   * @param message What failed.
   * @param endpoint `host:port` of the endpoint.
   * @param options The driver's error as `cause`, the `code`, and whether the server was `reached`.
   */
  constructor(message: string, endpoint: string, options?: ConnectionErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConnectionError";
    this.endpoint = endpoint;
    this.code = options?.code;
    this.reached = options?.reached ?? false;
  }
}

/** Options of a {@linkcode ConnectionError}. */
export interface ConnectionErrorOptions {
  /** The driver's error. */
  cause?: unknown;
  /** SQLSTATE or the driver's code. */
  code?: string;
  /** Whether the server answered. @default {false} */
  reached?: boolean;
}

/**
 * The connection was lost while COMMIT was in flight: the server may or may
 * not have committed. Check the data before retrying.
 *
 * @example Check before retrying a write whose COMMIT was cut off
 * ```ts
 * import { CommitUnknownError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("tx", (db) => db.query("INSERT INTO t VALUES (1)"));
 * } catch (err) {
 *   if (err instanceof CommitUnknownError) {
 *     // look the row up before inserting it again
 *   }
 * }
 * ```
 */
export class CommitUnknownError extends ConnectionError {
  /**
   * Builds the error.
   *
   * @param endpoint `host:port` of the endpoint.
   * @param options The driver's error as `cause`.
   */
  constructor(endpoint: string, options?: ErrorOptions) {
    super(
      `Commit outcome unknown on ${endpoint}: the connection was lost while COMMIT was in flight; check before retrying`,
      endpoint,
      options,
    );
    this.name = "CommitUnknownError";
  }
}

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

/**
 * No endpoint of the pool can be reached right now.
 *
 * @example No endpoint can be reached
 * ```ts
 * import { OfflineError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("default", (db) => db.query("SELECT 1"));
 * } catch (err) {
 *   if (err instanceof OfflineError) console.log("database offline");
 * }
 * ```
 */
export class OfflineError extends PoolError {
  /**
   * Builds the error.
   *
   * @param message Which endpoints were tried and why they failed.
   * @param options The last connection error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OfflineError";
  }
}

/**
 * No connection became free within the acquire timeout. The message shows the
 * group's state (`total`, `leased`, `idle`, `waiting`).
 *
 * @example Give up waiting for a free connection after 100 ms
 * ```ts
 * import { AcquireTimeoutError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("default", (db) => db.query("SELECT 1"), { timeoutMs: 100 });
 * } catch (err) {
 *   if (err instanceof AcquireTimeoutError) console.log("pool exhausted");
 * }
 * ```
 */
export class AcquireTimeoutError extends PoolError {
  /**
   * Builds the error.
   *
   * @param message What timed out, with the pool's state.
   */
  constructor(message: string) {
    super(message);
    this.name = "AcquireTimeoutError";
  }
}

/**
 * The pool was ended: it takes no new leases.
 *
 * @example The message of a lease after end()
 * ```ts
 * import { PoolClosedError } from "@x/pgdbpool";
 * const err = new PoolClosedError();
 * console.log(err.message);
 * ```
 */
export class PoolClosedError extends PoolError {
  /** Builds the error. */
  constructor() {
    super("Cannot lease: the pool has been ended");
    this.name = "PoolClosedError";
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
 * Whether the error means the connection is gone (the pool dropped it).
 *
 * @param err Any thrown value.
 * @returns `true` for a {@linkcode ConnectionError} (including `CommitUnknownError`).
 *
 * @example An error that is not about the connection
 * ```ts
 * import { isConnectionBroken } from "@x/pgdbpool";
 * console.log(isConnectionBroken(new Error("x"))); // false
 * ```
 */
export function isConnectionBroken(err: unknown): boolean {
  return err instanceof ConnectionError;
}

/**
 * Whether the server answered and refused the login: a wrong password
 * (`28P01`), a role or authorisation problem (class `28`), or a missing
 * database (`3D000`). Not an outage, and retrying cannot help.
 *
 * @param err Any thrown value.
 * @returns `true` for a {@linkcode ConnectionError} whose `code` is such a SQLSTATE.
 *
 * @example Tell a wrong password from an outage
 * ```ts
 * import { ConnectionError, isLoginRefused } from "@x/pgdbpool";
 * const err = new ConnectionError("password authentication failed", "db1:5432", {
 *   code: "28P01",
 *   reached: true,
 * });
 * console.log(isLoginRefused(err)); // true
 * ```
 */
export function isLoginRefused(err: unknown): boolean {
  if (!(err instanceof ConnectionError)) return false;
  const code = err.code;
  return code !== undefined && (code.startsWith("28") || code === "3D000") && code.length === 5;
}

// SQLSTATEs worth retrying: serialization failure, deadlock, and admin shutdown classes.
const RETRYABLE_SQLSTATES = new Set(["40001", "40P01", "57P01", "57P02", "57P03"]);

/**
 * Whether running the same work again may succeed: a lost connection (but not
 * a commit of unknown outcome), an offline or exhausted pool, a serialization
 * failure or a deadlock.
 *
 * @param err Any thrown value.
 * @returns `true` when a retry is safe and may succeed.
 *
 * @example Retry a call up to three times when it may succeed
 * ```ts
 * import { isRetryable, withHandler } from "@x/pgdbpool";
 * for (let attempt = 0; ; attempt++) {
 *   try {
 *     await withHandler("default", (db) => db.query("SELECT 1"));
 *     break;
 *   } catch (err) {
 *     if (attempt >= 3 || !isRetryable(err)) throw err;
 *   }
 * }
 * ```
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof CommitUnknownError || isLoginRefused(err)) return false;
  if (err instanceof ConnectionError || err instanceof OfflineError) return true;
  if (err instanceof AcquireTimeoutError || err instanceof PoolOverloadedError) return true;
  return err instanceof QueryError && err.code !== undefined && RETRYABLE_SQLSTATES.has(err.code);
}

/**
 * A group's wait queue is full (`max_waiting`): the lease fails at once
 * instead of queueing. The message shows the group's state.
 *
 * @example Shed load when the queue of a group is full
 * ```ts
 * import { PoolOverloadedError, withHandler } from "@x/pgdbpool";
 * try {
 *   await withHandler("default", (db) => db.query("SELECT 1"));
 * } catch (err) {
 *   if (err instanceof PoolOverloadedError) console.log("too busy:", err.maxWaiting);
 * }
 * ```
 */
export class PoolOverloadedError extends PoolError {
  /** The group whose wait queue is full. */
  readonly group: string;
  /** The group's `max_waiting` limit. */
  readonly maxWaiting: number;
  /**
   * Builds the error.
   *
   * @param group The group whose wait queue is full.
   * @param maxWaiting The group's `max_waiting` limit.
   * @param state The group's state (`total`, `leased`, `idle`, `waiting`), for the message.
   */
  constructor(group: string, maxWaiting: number, state: string) {
    super(
      `Cannot lease from group "${group}": the wait queue is full (max_waiting ${maxWaiting}; ${state})`,
    );
    this.name = "PoolOverloadedError";
    this.group = group;
    this.maxWaiting = maxWaiting;
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

/**
 * A pool cannot be shared with another isolate: it is not `type: "threaded"`,
 * it has been ended, or every isolate slot of its shared memory is taken.
 *
 * @example share() on a non-threaded pool
 * ```ts
 * import { createPool, PoolShareError } from "@x/pgdbpool";
 * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
 * try {
 *   pool.share();
 * } catch (err) {
 *   if (err instanceof PoolShareError) console.log(err.message); // asks for type "threaded"
 * }
 * ```
 */
export class PoolShareError extends PoolError {
  /**
   * Builds the error.
   *
   * @param message What cannot be shared, and why.
   */
  constructor(message: string) {
    super(message);
    this.name = "PoolShareError";
  }
}

/**
 * `pool.listen` on a pool whose driver cannot deliver the notifications of a
 * session it opened (Bun.SQL: its own `sql.listen` opens a connection of its
 * own, outside the pool, and passes the payload only; deno-postgres exposes
 * none). The message names the driver and what to use instead.
 *
 * @example A second pool, on postgres.js, only for LISTEN
 * ```ts
 * import { createPool, ListenUnsupportedError } from "@x/pgdbpool";
 * import { postgresjs } from "@x/pgdbpool/postgresjs";
 * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
 * try {
 *   await pool.listen("jobs", (payload) => console.log(payload));
 * } catch (err) {
 *   if (!(err instanceof ListenUnsupportedError)) throw err;
 *   const listening = createPool({
 *     db: "postgres://localhost/app",
 *     groups: { default: { connection_count: 1 } },
 *     driver: postgresjs(),
 *   });
 *   await listening.listen("jobs", (payload) => console.log(payload));
 * }
 * ```
 */
export class ListenUnsupportedError extends PoolError {
  /** The pool's driver (`Driver.name`). */
  readonly driver: string;
  /**
   * Builds the error.
   *
   * @param driver The driver's name.
   */
  constructor(driver: string) {
    super(
      `Cannot listen with the "${driver}" driver: it does not deliver notifications (LISTEN/NOTIFY); build the pool, or a second pool just for listen, with the postgresjs() or nodePostgres() driver`,
    );
    this.name = "ListenUnsupportedError";
    this.driver = driver;
  }
}
