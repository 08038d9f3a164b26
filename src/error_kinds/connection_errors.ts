/**
 * Errors of the connection: lost or refused, a COMMIT of unknown outcome,
 * no endpoint reachable.
 *
 * @module
 */
import { PoolError } from "./pool_error.ts";

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
