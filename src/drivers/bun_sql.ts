/**
 * The Bun.SQL adapter: runs the pool on Bun's built-in PostgreSQL client
 * (`Bun.SQL`), Bun only. Each pool connection is one `Bun.SQL` instance with
 * `max: 1`: one server session.
 *
 * Bun.SQL reconnects by itself: an instance whose connection closed opens a
 * new one for its next query, a new backend without the old session's state.
 * This adapter closes the instance from its `onclose` callback, before Bun
 * can do that, and refuses every query once the session is gone. A `max: 1`
 * instance is used rather than a connection taken with `reserve()` (which
 * never reconnects either): both pipeline alike here (about 12 µs per
 * pipelined query on Bun 1.4.5), and the instance needs no release
 * bookkeeping and has a `connect()` that opens the session up front.
 *
 * Protocol choices (per connection):
 * - with parameters: a named prepared statement (`prepare: true`, the
 *   default; Bun keeps the 1,024 most recently used per connection), else an
 *   unnamed statement;
 * - without parameters, one statement: a named prepared statement too. Bun
 *   runs simple-protocol queries one at a time, so this is what lets a
 *   parameterless statement (the pool's `BEGIN`, say) pipeline with the next
 *   query; with `prepare: false`, the simple protocol;
 * - without parameters, several statements (`;` other than at the end): the
 *   simple protocol, the only one that accepts them. The result is the last
 *   statement's.
 *
 * @example Use Bun.SQL explicitly (it is the default on Bun)
 * ```ts ignore
 * import { init, withHandler } from "@x/pgdbpool";
 * import { bunSql } from "@x/pgdbpool/bun-sql";
 *
 * init({
 *   db: "postgres://app@db1,db2/app",
 *   groups: { default: { connection_count: 10 } },
 *   driver: bunSql(),
 * });
 * const { rows } = await withHandler("default", (db) => db.query("SELECT now() AS t"));
 * ```
 *
 * @module
 */
import type { ConnectParams, Driver, DriverConnection, DriverResult, SslMode } from "../driver.ts";
import { QueryError } from "../errors.ts";
import {
  commandVerb,
  endpointLabel,
  endsSession,
  isSingleStatement,
  toQueryError,
  withConnectTimeout,
} from "./normalize.ts";

/** A Bun.SQL result: the rows, plus the metadata this adapter reads. */
type BunSqlResult = Record<string, unknown>[] & {
  /** Rows returned, or rows written when the statement returns none. */
  readonly count?: number | null;
  /** The command tag without counts; absent on a multi-statement result. */
  readonly command?: string | null;
};

/** A `Bun.SQL` instance, as far as this adapter uses it. */
interface BunSqlClient {
  /**
   * Runs a tagged-template query (used with a prepared, parameterless text).
   *
   * @param strings The template strings.
   * @returns The pending query.
   */
  (strings: TemplateStringsArray): Promise<BunSqlResult>;
  /**
   * Runs text with `$1` parameters; without them, with the simple protocol.
   *
   * @param text SQL text.
   * @param values Values for `$1`, `$2`…
   * @returns The pending query.
   */
  unsafe(text: string, values?: unknown[]): Promise<BunSqlResult>;
  /**
   * Opens the connection.
   *
   * @returns When the session is established.
   */
  connect(): Promise<unknown>;
  /**
   * Closes the connection.
   *
   * @param options `timeout` in seconds to wait for running queries.
   * @returns When closed.
   */
  close(options?: { timeout?: number }): Promise<void>;
}

/** The options this adapter passes to `new Bun.SQL()` (a subset of Bun's). */
interface BunSqlClientOptions {
  /** Always `"postgres"`. */
  adapter: "postgres";
  /** A URL without credentials, so that Bun never reads `DATABASE_URL`. */
  url: string;
  /** Host name, IP address, or Unix socket directory. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** User name. */
  username: string;
  /** Password; a function so Bun never falls back to `PGPASSWORD`. */
  password: () => string;
  /** Database name. */
  database: string;
  /** Always 1: one session. */
  max: 1;
  /** Always 0: the pool owns idle timeouts. */
  idleTimeout: 0;
  /** Always 0: the pool owns lifetimes. */
  maxLifetime: 0;
  /** Connect timeout in seconds (0: none). */
  connectionTimeout: number;
  /** Named prepared statements. */
  prepare: boolean;
  /** TLS mode or options. */
  tls: SslMode | Record<string, unknown>;
  /** Startup parameters. */
  connection: Record<string, string>;
  /** Called when the connection closes or fails to open. */
  onclose: (err: Error | null) => void;
}

/** The `Bun` global, as far as this adapter uses it. */
interface BunGlobal {
  SQL: new (options: BunSqlClientOptions) => BunSqlClient;
}

/**
 * Options of {@linkcode bunSql}.
 *
 * @example Without prepared statements (e.g. behind PgBouncer in transaction mode)
 * ```ts ignore
 * import { bunSql } from "@x/pgdbpool/bun-sql";
 * const driver = bunSql({ prepare: false });
 * ```
 */
export interface BunSqlOptions {
  /**
   * Use named prepared statements: parameterised queries and single
   * parameterless statements are parsed once per session and then only bound
   * and executed (Bun keeps the 1,024 most recently used per connection).
   * `false` sends parameterless text with the simple protocol, which Bun does
   * not pipeline, and parameterised text as unnamed statements.
   *
   * @default {true}
   */
  prepare?: boolean;
}

/**
 * Builds a {@linkcode Driver} on Bun.SQL. The driver can be built anywhere;
 * connecting outside Bun rejects with an error that says so.
 *
 * Connect-parameter mapping: `settings` become startup parameters (session
 * defaults, so `RESET ALL` returns to them; `application_name` defaults to
 * `"pgdbpool"`). TLS (`ssl`) uses Bun's own modes: `disable`; `allow` and
 * `prefer` (TLS when the server offers it, unverified, else plaintext; Bun
 * tries TLS first in both); `require` (TLS, unverified, unless `sslRootCert`
 * is given, which makes it `verify-ca` as in libpq); `verify-ca` (chain
 * verified against `sslRootCert` or the system roots, host name not
 * checked); `verify-full` (both). `NODE_TLS_REJECT_UNAUTHORIZED` does not
 * weaken the verifying modes. A host starting with `/` is a Unix socket
 * directory (no TLS there). Bun sends `undefined` parameters as `NULL`. A
 * server that closes the connection during startup is retried by Bun until
 * `connectTimeoutMs`.
 *
 * Values come back as Bun decodes them, which is not always what postgres.js
 * gives: `int8` and `numeric` as strings, arrays as arrays (a prepared
 * `int4[]` or `float4[]` as an `Int32Array`/`Float32Array`).
 *
 * @param options Prepared statements on or off.
 * @returns A driver that opens one `Bun.SQL` instance (one session) per connection.
 *
 * @example Open one session directly
 * ```ts ignore
 * import { bunSql } from "@x/pgdbpool/bun-sql";
 *
 * const conn = await bunSql().connect({
 *   host: "localhost",
 *   port: 5432,
 *   database: "app",
 *   user: "app",
 *   password: "secret",
 *   ssl: "prefer",
 *   sslRootCert: undefined,
 *   connectTimeoutMs: 10_000,
 *   settings: { application_name: "demo" },
 * });
 * const { rows } = await conn.query("SELECT $1::int + 1 AS n", [41]);
 * console.log(rows[0].n); // 42
 * await conn.close();
 * ```
 */
export function bunSql(options: BunSqlOptions = {}): Driver {
  const prepare = options.prepare ?? true;
  // Frozen template-strings arrays for prepared parameterless texts, shared by
  // the driver's connections (Bun keys its statements by text). Bounded:
  // past the cap, new texts get a fresh array per query.
  const templates = new Map<string, TemplateStringsArray>();
  return {
    name: "bun-sql",
    connect(params: ConnectParams): Promise<DriverConnection> {
      const bun = (globalThis as { Bun?: BunGlobal }).Bun;
      if (bun === undefined || typeof bun.SQL !== "function") {
        return Promise.reject(
          new Error(
            `Cannot connect to ${
              endpointLabel(params.host, params.port)
            } with the Bun.SQL driver: Bun.SQL exists only on Bun; use the postgres.js driver elsewhere`,
          ),
        );
      }
      return open(bun, params, prepare, templates);
    },
  };
}

const TEMPLATE_CACHE_MAX = 1024;

function templateOf(text: string, cache: Map<string, TemplateStringsArray>): TemplateStringsArray {
  let strings = cache.get(text);
  if (strings === undefined) {
    const array = [text];
    // Bun rejects a template-strings array whose `raw` is enumerable.
    Object.defineProperty(array, "raw", { value: Object.freeze([text]) });
    strings = Object.freeze(array) as unknown as TemplateStringsArray;
    if (cache.size < TEMPLATE_CACHE_MAX) cache.set(text, strings);
  }
  return strings;
}

async function open(
  bun: BunGlobal,
  params: ConnectParams,
  prepare: boolean,
  templates: Map<string, TemplateStringsArray>,
): Promise<DriverConnection> {
  const label = endpointLabel(params.host, params.port);
  const viaSocketFile = params.host.startsWith("/");
  const password = params.password ?? "";
  const timeoutMs = params.connectTimeoutMs;
  const conn = new BunSqlConnection(prepare, label, templates);
  const sql = new bun.SQL({
    adapter: "postgres",
    url: "postgres://",
    hostname: params.host,
    port: params.port,
    username: params.user,
    password: () => password,
    database: params.database,
    max: 1,
    idleTimeout: 0,
    maxLifetime: 0,
    connectionTimeout: timeoutMs > 0 && Number.isFinite(timeoutMs) ? timeoutMs / 1000 : 0,
    prepare,
    tls: viaSocketFile ? "disable" : tlsOption(params.ssl, params.sslRootCert),
    connection: { application_name: "pgdbpool", ...params.settings },
    onclose: (err) => conn.lost(err),
  });
  conn.attach(sql);
  try {
    await withConnectTimeout(sql.connect(), timeoutMs, label, () => conn.lost(undefined));
  } catch (err) {
    conn.lost(err);
    throw err;
  }
  return conn;
}

/** Maps a libpq TLS mode to Bun.SQL's `tls` option. */
function tlsOption(mode: SslMode, rootCert: string | undefined): BunSqlClientOptions["tls"] {
  // An object with rejectUnauthorized: true means verify-full to Bun; a
  // checkServerIdentity that accepts everything takes the host check off.
  const verify = (checkHost: boolean): Record<string, unknown> => {
    const tls: Record<string, unknown> = { rejectUnauthorized: true };
    if (rootCert !== undefined) tls.ca = rootCert;
    if (!checkHost) tls.checkServerIdentity = noop;
    return tls;
  };
  switch (mode) {
    case "disable":
    case "allow":
    case "prefer":
      return mode;
    case "require":
      return rootCert === undefined ? "require" : verify(false);
    case "verify-ca":
      return verify(false);
    case "verify-full":
      return verify(true);
  }
}

function noop(): undefined {
  return undefined;
}

interface BunSqlError extends Error {
  code?: string;
  errno?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
}

/** A server ErrorResponse: Bun puts the SQLSTATE in `errno` (its own code is in `code`). */
function isServerError(err: unknown): err is BunSqlError & { errno: string } {
  const errno = (err as BunSqlError | null)?.errno;
  return err instanceof Error && typeof errno === "string" && errno.length === 5;
}

/** Input Bun refuses before sending anything; the session is untouched. */
function isRefusal(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = (err as BunSqlError | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_INVALID_ARG");
}

const EMPTY: unknown[] = [];

class BunSqlConnection implements DriverConnection {
  #sql!: BunSqlClient;
  readonly #prepare: boolean;
  readonly #label: string;
  readonly #templates: Map<string, TemplateStringsArray>;
  #closed = false;
  #cause: unknown;
  #ending: Promise<void> | undefined;

  constructor(prepare: boolean, label: string, templates: Map<string, TemplateStringsArray>) {
    this.#prepare = prepare;
    this.#label = label;
    this.#templates = templates;
  }

  /** Sets the instance; called once, before it can connect. */
  attach(sql: BunSqlClient): void {
    this.#sql = sql;
  }

  get closed(): boolean {
    return this.#closed;
  }

  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    if (this.#closed) {
      return Promise.reject(
        Object.assign(
          new Error(`Cannot query: the Bun.SQL session to ${this.#label} has ended`, {
            cause: this.#cause,
          }),
          { code: "ERR_POSTGRES_CONNECTION_CLOSED" },
        ),
      );
    }
    let pending: Promise<BunSqlResult>;
    try {
      pending = params !== undefined && params.length > 0
        ? this.#sql.unsafe(text, params as unknown[])
        : this.#prepare && isSingleStatement(text)
        ? this.#sql(templateOf(text, this.#templates))
        : this.#sql.unsafe(text, EMPTY);
    } catch (err) {
      return Promise.reject(this.#translate(err));
    }
    return pending.then(toDriverResult, (err) => {
      throw this.#translate(err);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#ending ??= this.#sql.close({ timeout: 0 }).catch(noop);
  }

  /** The session is gone: refuse everything from now on, and close before Bun reconnects. */
  lost(cause: unknown): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#cause = cause;
    }
    // Called from Bun's onclose too: closing the instance there, synchronously,
    // is what keeps Bun from opening a new session for the next query.
    this.#ending ??= this.#sql.close({ timeout: 0 }).catch(noop);
  }

  #translate(err: unknown): unknown {
    if (isServerError(err)) {
      if (endsSession(err.severity)) {
        this.lost(err);
        return err;
      }
      return toQueryError(err, {
        code: err.errno,
        detail: err.detail,
        hint: err.hint,
        position: err.position,
      });
    }
    if (this.#closed) return err;
    if (isRefusal(err)) return new QueryError((err as Error).message, { cause: err });
    this.lost(err);
    return err;
  }
}

function toDriverResult(result: BunSqlResult): DriverResult {
  let last = result;
  // Several statements (simple protocol) resolve to an array of results.
  if (last.command === undefined && last.length > 0 && Array.isArray(last[0])) {
    last = last[last.length - 1] as unknown as BunSqlResult;
  }
  const count = last.count;
  return {
    rows: last,
    // Rows returned, else rows affected. (Tags without a count, such as SHOW
    // or EXPLAIN, still return rows; Bun then reports a count of 0.)
    rowCount: last.length > 0 ? last.length : typeof count === "number" ? count : 0,
    command: commandVerb(last.command),
  };
}
