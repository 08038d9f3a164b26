/**
 * The shapes of a pool configuration: what the user may write
 * ({@linkcode PoolConfigInput}, {@linkcode EndpointInput}, {@linkcode GroupInput})
 * and what `normalizeConfig` in `config.ts` returns ({@linkcode PoolConfig},
 * {@linkcode EndpointConfig}, {@linkcode GroupConfig}). Types only: the
 * defaults live in `config_defaults.ts`.
 *
 * @module
 */
import type { Driver, SslMode } from "../driver.ts";
import type { OnConnect } from "../groups/on_connect.ts";
import type { ParamStyle } from "../python/pyformat.ts";
import type { PassFunction } from "./pass_function.ts";

/**
 * libpq's `target_session_attrs`: which servers a group's sessions may use.
 * `"read-write"`: accepts writes by default (not in recovery and
 * `default_transaction_read_only` off); `"read-only"`: the opposite;
 * `"primary"` / `"standby"`: not in recovery / in recovery;
 * `"prefer-standby"`: a standby while one is reachable, else a primary;
 * `"any"`: every server.
 */
export type TargetSessionAttrs =
  | "any"
  | "read-write"
  | "read-only"
  | "primary"
  | "standby"
  | "prefer-standby";

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

/** One group as the user may write it. */
export interface GroupInput {
  /** Most connections this group opens (alias `connectionCount`). Required, integer ≥ 1. */
  connection_count?: number;
  /** Alias of `connection_count`. */
  connectionCount?: number;
  /** `false` runs each `withHandler` inside a transaction. @default {true} */
  autocommit?: boolean;
  /**
   * What release does about session state a handler changed (`SET`, temp
   * tables, prepared statements, advisory locks, `LISTEN`, held cursors):
   * `"auto"` undoes what the handler changed, and costs nothing when it
   * changed nothing; `"none"` trusts the callers; any other string is SQL run
   * on every release. The keywords are matched exactly: a lone word that is
   * no SQL statement (`"Auto"`, `"none "`) is a `ConfigError`. @default {"auto"}
   */
  reset?: string;
  /**
   * Let concurrent handlers share sessions so the driver pipelines their
   * queries (autocommit groups only; transactions and session-changing
   * statements are refused). Each lease takes the session with the fewest
   * queries in flight. @default {false}
   */
  pipeline?: boolean;
  /** Ids of the endpoints this group may use (see `EndpointInput.id`). @default {all endpoints} */
  endpoints?: readonly string[];
  /**
   * Which servers the group's sessions may use, with libpq's values and
   * meaning (alias `targetSessionAttrs`). A URL's `?target_session_attrs=`
   * sets the default of every group. @default {"any"}
   */
  target_session_attrs?: TargetSessionAttrs;
  /** Alias of `target_session_attrs`. */
  targetSessionAttrs?: TargetSessionAttrs;
  /**
   * How many times `fn` runs again (transactional groups only) when its
   * transaction failed with a serialization failure (40001) or a deadlock
   * (40P01), or when the session was lost before any of `fn`'s queries got an
   * answer; never after a COMMIT whose outcome is unknown. @default {0}
   */
  retry?: number;
  /**
   * Most callers queued for a session (alias `maxWaiting`); past it a lease
   * fails at once with `PoolOverloadedError`. An integer ≥ 0 (0: never wait)
   * or `Infinity`. @default {Infinity}
   */
  max_waiting?: number;
  /** Alias of `max_waiting`. */
  maxWaiting?: number;
  /** Call `"SQLPrepare"."PrepareQueries"()` on each new session (the Python module's key). @default {false} */
  sqlprepare?: boolean;
  /** SQL, or a function, run on each new session before its first use (alias `onConnect`); replaces the pool's. */
  on_connect?: OnConnect;
  /** Alias of `on_connect`. */
  onConnect?: OnConnect;
  /** `"numeric"` (`$1`) or `"pyformat"` (`%s`, `%(name)s`); replaces the pool's. @default {"numeric"} */
  paramstyle?: ParamStyle;
}

/** The pool configuration as the user writes it. */
export interface PoolConfigInput {
  /** `"non-threaded"` (default) or `"threaded"`: the Workers of a process share each group's budget and endpoint health through `pool.share()`. */
  type?: "threaded" | "non-threaded";
  /** One endpoint, a list of them, a connection URL (multi-host allowed) or a list of URLs. */
  db: string | EndpointInput | readonly (string | EndpointInput)[];
  /** The groups, by name. */
  groups: Record<string, GroupInput>;
  /** The driver; by default Bun.SQL on Bun, postgres.js elsewhere. */
  driver?: Driver;
  /** Every group's `on_connect` unless the group gives its own (alias `onConnect`). */
  on_connect?: OnConnect;
  /** Alias of `on_connect`. */
  onConnect?: OnConnect;
  /** Every group's `paramstyle` unless the group gives its own. @default {"numeric"} */
  paramstyle?: ParamStyle;
  /** How long a lease waits for a free connection, in ms (alias `acquire_timeout_ms`). @default {10000} */
  acquireTimeoutMs?: number;
  /** Ping a connection that sat idle longer than this before handing it out, in ms (alias `ping_after_idle_ms`). @default {1000} */
  pingAfterIdleMs?: number;
  /** A ping before use unanswered this long breaks the session; the lease moves on (alias `ping_timeout_ms`). @default {5000} */
  pingTimeoutMs?: number;
  /** Close sessions idle longer than this, in ms; 0 keeps them (alias `idle_timeout_ms`). @default {600000} */
  idleTimeoutMs?: number;
  /** Retire a session at its next release after this age, less up to 10% jitter, in ms; 0: off (alias `max_lifetime_ms`). @default {1800000} */
  maxLifetimeMs?: number;
  /** How long `end()` waits for leased handlers to come back, in ms (alias `end_timeout_ms`). @default {5000} */
  endTimeoutMs?: number;
  /**
   * Let the process exit while every session is idle: idle sessions' sockets
   * do not keep it alive (pg-pool's name; drivers that expose their socket). @default {false}
   */
  allowExitOnIdle?: boolean;
  /**
   * Report a lease held longer than this, once, as a `leak` event carrying the
   * stack of the call that leased it; 0 turns it off (alias `leak_detection_ms`).
   * @default {0}
   */
  leakDetectionMs?: number;
  /** First back-off after an endpoint fails, in ms; doubles up to `reconnectMaxMs` (alias `reconnect_base_ms`). @default {250} */
  reconnectBaseMs?: number;
  /** Longest back-off of a failing endpoint, in ms (alias `reconnect_max_ms`). @default {10000} */
  reconnectMaxMs?: number;
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

/** A normalised group. */
export interface GroupConfig {
  /** Most connections the group opens, ≥ 1. */
  readonly connectionCount: number;
  /** `false` runs each `withHandler` inside a transaction. */
  readonly autocommit: boolean;
  /** `"auto"`, `"none"`, or SQL run on every release. */
  readonly reset: string;
  /** Sessions shared by concurrent handlers. */
  readonly pipeline: boolean;
  /** Ids of the endpoints the group may use, in the pool's order; `undefined`: all. */
  readonly endpoints: readonly string[] | undefined;
  /** Which servers the group's sessions may use. */
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** How many times `fn` may run again (see `GroupInput.retry`); 0 in autocommit groups. */
  readonly retry: number;
  /** Most callers queued for a session (`Infinity`: unbounded). */
  readonly maxWaiting: number;
  /** Call `"SQLPrepare"."PrepareQueries"()` on each new session. */
  readonly sqlprepare: boolean;
  /** Run on each new session before its first use, if set. */
  readonly onConnect: OnConnect | undefined;
  /** How query parameters are written. */
  readonly paramstyle: ParamStyle;
}

/**
 * The normalised, frozen configuration. `groups` has a `null` prototype, so a
 * lookup such as `groups["constructor"]` finds only configured groups.
 */
export interface PoolConfig {
  /** Threading model. */
  readonly type: "threaded" | "non-threaded";
  /** The endpoints, in rotation order; never empty. */
  readonly endpoints: readonly EndpointConfig[];
  /** The groups, by name; never empty. */
  readonly groups: Readonly<Record<string, GroupConfig>>;
  /** The driver, or `undefined` for the runtime's default. Not frozen: it is the caller's object. */
  readonly driver: Driver | undefined;
  /** How long a lease waits for a free connection, in ms; > 0. */
  readonly acquireTimeoutMs: number;
  /** Idle time after which a connection is pinged before use, in ms. */
  readonly pingAfterIdleMs: number;
  /** How long the ping before use may take, in ms. */
  readonly pingTimeoutMs: number;
  /** Close sessions idle longer than this, in ms; 0: keep them. */
  readonly idleTimeoutMs: number;
  /** Retire a session at its next release after this age (less up to 10% jitter), in ms; 0: off. */
  readonly maxLifetimeMs: number;
  /** How long `end()` waits for leased handlers, in ms. */
  readonly endTimeoutMs: number;
  /** Idle sessions do not keep the process alive. */
  readonly allowExitOnIdle: boolean;
  /** Report leases held longer than this, in ms; 0: off. */
  readonly leakDetectionMs: number;
  /** First back-off of a failing endpoint, in ms. */
  readonly reconnectBaseMs: number;
  /** Longest back-off of a failing endpoint, in ms; ≥ `reconnectBaseMs`. */
  readonly reconnectMaxMs: number;
}
