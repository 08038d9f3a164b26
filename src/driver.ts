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
 * Every error of a driver reaches the pool through a promise it returned: a
 * bundled adapter never lets one escape as an unhandled rejection or an
 * uncaught exception.
 *
 * @module
 */

/**
 * TLS modes, as libpq names them and as the bundled adapters read them:
 * `disable` no TLS; `allow` and `prefer` TLS without verifying, plaintext when
 * the server has no TLS; `require` TLS without verifying, unless `sslRootCert`
 * is given, which makes it `verify-ca` (as in libpq); `verify-ca` the chain
 * verified against `sslRootCert` (or the system roots), not the host name;
 * `verify-full` both. A Unix socket (a host starting with `/`) never uses
 * TLS. Each adapter's documentation says where its client differs.
 */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

/** Everything a driver needs to open one session: fresh per connect, never stored (it has the password). */
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
   * `temp_buffers`. The bundled adapters name a session `"pgdbpool"` when
   * `application_name` is not given.
   */
  readonly settings: Readonly<Record<string, string>>;
  /**
   * `false`: the endpoint is a transaction-mode pooler (PgBouncer before
   * 1.21), which cannot keep named prepared statements: use unnamed ones
   * only, whatever the driver's own `prepare` says. @default {true}
   */
  readonly namedStatements?: boolean;
  /**
   * Called with each notice (`NOTICE`, `WARNING`, `INFO`…) the server sends
   * on this session, from connect to close. A throwing callback is ignored.
   */
  readonly onNotice?: (notice: DriverNotice) => void;
  /**
   * Called with each notification the session receives after a `LISTEN`
   * (only by drivers whose `notifications` is `true`; `pool.listen` uses it).
   * A throwing callback is ignored.
   */
  readonly onNotification?: (notification: DriverNotification) => void;
  /**
   * Aborted when the pool ends mid-connect: tear the half-open session down at once (a socket
   * or timer left would hold the process) and reject (bundled: `CONNECT_ABORTED`).
   */
  readonly signal?: AbortSignal;
}

/** A notification the server sent on a session that ran `LISTEN` (NotificationResponse). */
export interface DriverNotification {
  /** The channel it was sent on. */
  readonly channel: string;
  /** The payload (`""` when NOTIFY gave none). */
  readonly payload: string;
  /** Process id of the server session that sent it. */
  readonly pid: number;
}

/** A notice the server sent on a session (NoticeResponse). */
export interface DriverNotice {
  /** Non-localised severity: `"NOTICE"`, `"WARNING"`, `"INFO"`, `"DEBUG"`, `"LOG"`. */
  readonly severity: string;
  /** SQLSTATE, e.g. `"01000"`. */
  readonly code: string;
  /** The primary message. */
  readonly message: string;
  /** The DETAIL field, if any. */
  readonly detail?: string;
  /** The HINT field, if any. */
  readonly hint?: string;
}

/**
 * What a query returns at the driver level. Every bundled adapter gives the
 * same shapes (checked per driver by the conformance suite):
 *
 * | PostgreSQL | JavaScript |
 * |---|---|
 * | `NULL`, also inside arrays | `null` |
 * | `int2`, `int4`, `float4`, `float8` | `number` |
 * | `int8`, `numeric` | `string` (exact) |
 * | `bool` | `boolean` |
 * | `text`, `varchar`, `uuid`, `time`, `interval`, `point` and other types | the server's text |
 * | `json`, `jsonb` | parsed value |
 * | `bytea` | bytes (`Uint8Array`; a `Buffer` on Node, Deno and Bun) |
 * | `date`, `timestamp`, `timestamptz` | `Date`; `infinity` and `-infinity` as `Infinity` and `-Infinity` |
 * | arrays | plain `Array`s (nested for more dimensions) of their elements' shapes |
 *
 * (postgres.js with `fetchTypes: false` gives arrays as their text.)
 */
export interface DriverResult {
  /** Rows as plain objects keyed by column name, in a plain `Array`. */
  rows: Record<string, unknown>[];
  /** Rows returned or affected. */
  rowCount: number;
  /** The command tag's verb, upper case: `"SELECT"`, `"INSERT"`, `"BEGIN"`, `"COMMIT"`, `"ROLLBACK"`… */
  command: string;
}

/**
 * The pool's side of one reply, for a driver that settles replies itself
 * (`DriverConnection.settlesReplies`). The driver calls exactly one of the
 * two, once, for every query it was given the settler with, refusals and
 * lost sessions included, inside the reaction that settles the query's
 * promise: the promise resolves with what `ok` returned, or rejects with
 * what `failed` threw.
 *
 * @example A driver connection that settles through the pool
 * ```ts
 * import type { DriverResult, ReplySettler } from "@x/pgdbpool";
 * function settle(reply: Promise<DriverResult>, settler?: ReplySettler): Promise<DriverResult> {
 *   if (settler === undefined) return reply;
 *   return reply.then((result) => settler.ok(result), (err) => settler.failed(err));
 * }
 * ```
 */
export interface ReplySettler {
  /**
   * The reply arrived.
   *
   * @param result The driver's result.
   * @returns The result to resolve the query with.
   */
  ok(result: DriverResult): DriverResult;
  /**
   * The query failed (the driver's error contract applies to `err`).
   *
   * @param err The driver's error.
   * @returns Never: throws the error to reject the query with.
   */
  failed(err: unknown): never;
}

/**
 * One server session.
 *
 * Error contract: a query the server rejected rejects with a `QueryError`
 * (SQLSTATE in `code`, and the server's other fields); a lost session sets
 * `closed` to `true` before the query's promise rejects. The bundled
 * adapters then reject it, and every later query, with one and the same
 * `ConnectionError`; other drivers may reject with any error, which the pool
 * turns into a `ConnectionError`.
 */
export interface DriverConnection {
  /**
   * Runs one query with `$1`-style parameters. A parameter that cannot be
   * sent as what it is (a circular object, a `toJSON` that throws, a symbol,
   * a function) and a `COPY` statement are refused with a `QueryError`
   * before anything is sent.
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @param settler Given only to a connection whose `settlesReplies` is `true`.
   * @returns Rows, row count and command; with a settler, what it returned or threw.
   */
  query(text: string, params?: readonly unknown[], settler?: ReplySettler): Promise<DriverResult>;
  /**
   * `true` when `query` honours its `settler`: the pool then counts and
   * translates a reply inside the driver's own reaction to it, instead of
   * chaining one more promise per query. Every bundled adapter except
   * deno-postgres sets it.
   */
  readonly settlesReplies?: boolean;
  /** `true` once the session is gone. It never becomes `false` again. */
  readonly closed: boolean;
  /**
   * The session's parameters as the server reported them (ParameterStatus),
   * kept current as the server reports changes (PostgreSQL 14+ reports
   * `in_hot_standby` and `default_transaction_read_only` again after
   * `pg_promote()`, with the reply to the next query). Always present keys on
   * servers that report them: `server_version`, `in_hot_standby` (14+),
   * `default_transaction_read_only` (14+). A driver that cannot see them gives
   * `{}` (Bun.SQL and deno-postgres: read the role with a query instead).
   */
  readonly parameters: Readonly<Record<string, string>>;
  /** Ends the session. Never rejects. */
  close(): Promise<void>;
  /**
   * Optional: asks the server to cancel what this session runs (a CancelRequest on a new connection,
   * TLS if the session has it). Settles once sent or failed, within the connect timeout; never rejects.
   */
  cancel?(): Promise<void>;
  /** Optional (`allowExitOnIdle`): the socket keeps the process alive only while a query is in flight. */
  unrefWhenIdle?(): void;
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
   * `true` when `connect` honours `ConnectParams.onNotification` (postgres.js
   * and node-postgres); `pool.listen` refuses a driver without it.
   */
  readonly notifications?: boolean;
  /**
   * Opens one session. The bundled adapters reject with a `ConnectionError`
   * whose `reached` says whether the server answered at all and whose `code`
   * holds the SQLSTATE when the server refused the login (`28P01` wrong
   * password, `28000` no such role, `3D000` no such database: see
   * `isLoginRefused`). Other drivers may reject with any error, which the
   * pool treats as an unreachable endpoint.
   *
   * @param params Where and how to connect.
   * @returns The open session.
   */
  connect(params: ConnectParams): Promise<DriverConnection>;
}
