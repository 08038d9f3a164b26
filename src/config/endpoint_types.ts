/**
 * The shapes of one endpoint: as the user may write it ({@linkcode EndpointInput})
 * and as `normalizeConfig` returns it ({@linkcode EndpointConfig}). Types only.
 *
 * @module
 */
import type { SslMode } from "../driver.ts";
import type { PassFunction } from "./pass_function.ts";

/** One endpoint as the user may write it (seed-style keys or camelCase aliases). */
export interface EndpointInput {
  /** Names the endpoint in `groups.<g>.endpoints`, stats and `db.endpoint`; unique. @default {"host:port"} */
  id?: string;
  /** Host name, IP, or Unix socket directory. */
  host?: string;
  /** TCP port. @default {5432} */
  port?: number | string;
  /** Database name (alias `database`). */
  name?: string;
  /** Database name (alias of `name`). */
  database?: string;
  /** User name. @default {"postgres"} */
  user?: string;
  /** Password (alias `password`). */
  pass?: string | PassFunction;
  /** Password (alias of `pass`). */
  password?: string | PassFunction;
  /** TLS mode. @default {"disable"} */
  ssl?: SslMode;
  /** PEM CA certificate(s) used by `verify-ca` / `verify-full` (alias `sslRootCert`). */
  sslrootcert?: string;
  /** Alias of `sslrootcert`. */
  sslRootCert?: string;
  /** Connect timeout in seconds (alias `connectTimeout`). @default {10} */
  connect_timeout?: number;
  /** Alias of `connect_timeout`, in seconds. */
  connectTimeout?: number;
  /** Statement timeout in milliseconds, applied as `statement_timeout` (alias `queryTimeout`). @default {5000} */
  query_timeout?: number;
  /** Alias of `query_timeout`, in milliseconds. */
  queryTimeout?: number;
  /** Temp buffers in megabytes, applied as `temp_buffers` (alias `sessionTmpBuffer`). @default {128} */
  session_tmp_buffer?: number;
  /** Alias of `session_tmp_buffer`, in megabytes. */
  sessionTmpBuffer?: number;
  /** `application_name` of the sessions (alias `applicationName`). @default {"pgdbpool"} */
  application_name?: string;
  /** Alias of `application_name`. */
  applicationName?: string;
  /**
   * The Python module's sleep between reconnect tries, in seconds (alias
   * `connectionRetrySleep`). Here it sets the pool's first back-off,
   * `reconnectBaseMs`; every endpoint that gives it must give the same value.
   */
  connection_retry_sleep?: number;
  /** Alias of `connection_retry_sleep`, in seconds. */
  connectionRetrySleep?: number;
  /**
   * `"transaction"`: the endpoint is a transaction-mode pooler (PgBouncer's
   * `pool_mode = transaction`): no startup settings, unnamed statements only,
   * session-changing statements refused (alias `poolMode`). @default {"session"}
   */
  pool_mode?: "session" | "transaction";
  /** Alias of `pool_mode`. */
  poolMode?: "session" | "transaction";
}

/**
 * A normalised endpoint. Carries no password: {@linkcode passwordOf} finds it,
 * so that printing or serialising a config never shows it.
 */
export interface EndpointConfig {
  /** Unique id; `"host:port"` (IPv6 `"[::1]:5432"`) unless one was given. */
  readonly id: string;
  /** Host name, IP address (IPv6 without brackets) or Unix socket directory. */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
  /** Database name; defaults to the user name. */
  readonly database: string;
  /** User name. */
  readonly user: string;
  /** TLS mode. */
  readonly ssl: SslMode;
  /** PEM CA certificate(s), if given. */
  readonly sslRootCert: string | undefined;
  /** Connect timeout in milliseconds (the input is in seconds). */
  readonly connectTimeoutMs: number;
  /** `statement_timeout` in milliseconds; `0` means none. */
  readonly queryTimeoutMs: number;
  /** `temp_buffers` in megabytes. */
  readonly sessionTmpBufferMb: number;
  /** `application_name` of the sessions. */
  readonly applicationName: string;
  /** `"transaction"`: a transaction-mode pooler hands each transaction its own server session. */
  readonly poolMode: "session" | "transaction";
}
