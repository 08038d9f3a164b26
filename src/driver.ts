/**
 * The driver contract: what an adapter must provide so the pool can run on a
 * PostgreSQL client library. Types only; adapters live in `drivers/`.
 *
 * One {@linkcode DriverConnection} is one server session. When the session
 * ends (server gone, backend terminated, socket closed) the connection reports
 * `closed === true` and stays dead: it never reconnects by itself, because a
 * new session would silently lose `SET`s, temp tables and the open transaction.
 * The pool decides what happens next.
 *
 * @module
 */

/** TLS modes, as libpq names them. */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

/**
 * Everything a driver needs to open one session. Built fresh for each
 * connect and never stored by the pool, because it carries the password.
 */
export interface ConnectParams {
  /** Host name, IP address, or a Unix socket directory (starts with `/`). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** Database name. */
  readonly database: string;
  /** User name. */
  readonly user: string;
  /** Password, if any. Never log it. */
  readonly password: string | undefined;
  /** TLS mode. */
  readonly ssl: SslMode;
  /** PEM CA certificate(s) to verify the server with (`verify-ca`, `verify-full`). */
  readonly sslRootCert: string | undefined;
  /** Give up connecting after this many milliseconds. */
  readonly connectTimeoutMs: number;
  /**
   * Startup parameters to send (they become the session defaults, so
   * `RESET ALL` returns to them): `application_name`, `statement_timeout`,
   * `temp_buffers`.
   */
  readonly settings: Readonly<Record<string, string>>;
}

/** What a query returns at the driver level. */
export interface DriverResult {
  /** Rows as objects keyed by column name. */
  rows: Record<string, unknown>[];
  /** Rows returned or affected. */
  rowCount: number;
  /** The command tag's verb, upper case: `"SELECT"`, `"INSERT"`, `"BEGIN"`, `"COMMIT"`, `"ROLLBACK"`… */
  command: string;
}

/**
 * One server session.
 *
 * Error contract: a query the server rejected rejects with a `QueryError`
 * (SQLSTATE in `code`); a lost session sets `closed` to `true` before the
 * query's promise rejects (with any error; the pool turns it into a
 * `ConnectionError`).
 */
export interface DriverConnection {
  /**
   * Runs one query with `$1`-style parameters.
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns Rows, row count and command.
   */
  query(text: string, params?: readonly unknown[]): Promise<DriverResult>;
  /** `true` once the session is gone. It never becomes `false` again. */
  readonly closed: boolean;
  /** Ends the session. Never rejects. */
  close(): Promise<void>;
}

/**
 * A PostgreSQL client adapter.
 *
 * @example A driver over any client library
 * ```ts
 * import type { Driver } from "@x/pgdbpool";
 * const refusing: Driver = {
 *   name: "refusing",
 *   connect(params) {
 *     return Promise.reject(new Error(`cannot reach ${params.host}:${params.port}`));
 *   },
 * };
 * ```
 */
export interface Driver {
  /** Short name for stats and messages, e.g. `"postgresjs"`. */
  readonly name: string;
  /**
   * Opens one session. Rejects (with any error) when the endpoint cannot be
   * reached or refuses the login; the pool wraps it in a `ConnectionError`.
   *
   * @param params Where and how to connect.
   * @returns The open session.
   */
  connect(params: ConnectParams): Promise<DriverConnection>;
}
