/**
 * `pass` given as a function: for short-lived credentials (a cloud IAM token,
 * a secret manager's lease), fetched for each new session rather than once.
 *
 * @module
 */

/** What a `pass` function is told: the endpoint a session is being opened on. */
export interface PassContext {
  /** The endpoint's id. */
  readonly id: string;
  /** Its host. */
  readonly host: string;
  /** Its port. */
  readonly port: number;
  /** The user logging in. */
  readonly user: string;
  /** The database. */
  readonly database: string;
}

/**
 * A password source: called before each new session is opened (concurrent
 * opens on one endpoint share one call), within the endpoint's
 * `connect_timeout`. What it returns is used for that login only and never
 * stored, logged or shown.
 *
 * @example An IAM token per session
 * ```ts
 * import { createPool, type PassFunction } from "@x/pgdbpool";
 * declare function fetchToken(host: string, port: number, user: string): Promise<string>;
 * const pass: PassFunction = ({ host, port, user }) => fetchToken(host, port, user);
 * const pool = createPool({
 *   db: { host: "db1", name: "app", user: "app", pass },
 *   groups: { default: { connection_count: 4 } },
 * });
 * ```
 */
export type PassFunction = (endpoint: PassContext) => string | Promise<string>;
