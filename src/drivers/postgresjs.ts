/**
 * The postgres.js adapter: runs the pool on postgres.js (npm `postgres`,
 * github.com/porsager/postgres) on Deno, Bun and Node. Each pool connection is
 * one postgres.js instance with `max: 1` over one socket: one server session.
 *
 * postgres.js reconnects by itself: an instance whose socket closed opens a
 * new one for its next query (or for queries still queued), a new backend
 * without the old session's `SET`s, temp tables or transaction. This adapter
 * makes that impossible rather than unlikely: it hands postgres.js a socket
 * factory that opens the TCP connection exactly once and refuses any second
 * call, watches `onclose`, and refuses every query once the session is gone.
 * It also passes every option postgres.js would otherwise read from `PG*`
 * environment variables, so the pool's config decides; the one exception is
 * `PGTARGETSESSIONATTRS`, which postgres.js reads whatever it is given (when
 * set, connecting to a server of the other role fails). TLS is negotiated by
 * that socket factory too (postgres.js gets a ready socket), so every `ssl`
 * mode behaves as documented on {@linkcode postgresjs} and a server without
 * TLS fails with a clear error.
 *
 * Protocol choices (per connection):
 * - with parameters: a named prepared statement (`prepare: true`, the
 *   default), cached by postgres.js for the session's life; with
 *   `prepare: false`, an unnamed statement, which postgres.js sends in two
 *   round trips (describe, then bind) and cannot pipeline;
 * - without parameters, one statement: a named prepared statement too
 *   (parsed once per session, then only bound and executed); with
 *   `prepare: false`, the simple protocol;
 * - without parameters, several statements (`;` other than at the end): the
 *   simple protocol, the only one that accepts them. The result is the last
 *   statement's.
 *
 * Every distinct text run with `prepare: true` stays prepared on the server
 * until the session ends (postgres.js never evicts), so for many distinct
 * ad-hoc texts set `prepare: false` or bound the connections' lifetime.
 *
 * @example Use postgres.js explicitly (it is the default outside Bun)
 * ```ts ignore
 * import { init, withHandler } from "@x/pgdbpool";
 * import { postgresjs } from "@x/pgdbpool/postgresjs";
 *
 * init({
 *   db: "postgres://app@db1,db2/app",
 *   groups: { default: { connection_count: 10 } },
 *   driver: postgresjs({ prepare: true }),
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

/** A postgres.js result: the rows, plus the metadata this adapter reads. */
export type PostgresjsResult = Record<string, unknown>[] & {
  /** Rows returned or affected; `null` for tags without a count. */
  readonly count?: number | null;
  /** The command tag without counts (`"SELECT"`, `"CREATE TABLE"`); absent on a multi-statement result. */
  readonly command?: string | null;
};

/** The postgres.js `Sql` instance, as far as this adapter uses it. */
export interface PostgresjsSql {
  /**
   * Runs text with `$1` parameters.
   *
   * @param query SQL text.
   * @param parameters Values for `$1`, `$2`…
   * @param options `prepare`: named statement; `simple`: simple protocol.
   * @returns The pending query (a promise of the result).
   */
  unsafe(
    query: string,
    parameters?: unknown[],
    options?: { prepare?: boolean; simple?: boolean },
  ): Promise<PostgresjsResult>;
  /**
   * Ends the instance's connections.
   *
   * @param options `timeout` in seconds before connections are destroyed.
   * @returns When ended.
   */
  end(options?: { timeout?: number }): Promise<void>;
}

/** The options this adapter passes to `postgres()` (a subset of postgres.js's `Options`). */
export interface PostgresjsClientOptions {
  /** Host name, IP address or socket directory (the socket factory does the connecting). */
  host: string;
  /** TCP port. */
  port: number;
  /** User name. */
  user: string;
  /** Database name. */
  database: string;
  /** Password; a function so postgres.js never falls back to `PGPASSWORD`. */
  pass: () => string;
  /** Always 1: one session. */
  max: 1;
  /** Always 0: the pool owns lifetimes. */
  max_lifetime: 0;
  /** Always 0: the pool owns idle timeouts. */
  idle_timeout: 0;
  /** Always 0: the adapter runs its own connect deadline, which covers every step. */
  connect_timeout: 0;
  /** Whether to fetch array types at connect. */
  fetch_types: boolean;
  /** Named prepared statements for parameterised queries. */
  prepare: boolean;
  /** Always `false`: the socket factory negotiates TLS itself and hands over a ready socket. */
  ssl: false;
  /** Startup parameters. */
  connection: Record<string, string>;
  /** Notices are dropped (postgres.js would print them). */
  onnotice: (notice: Record<string, unknown>) => void;
  /** Called when the socket closes. */
  onclose: (connectionId: number) => void;
  /** Opens the one socket of the instance (TLS negotiated); refuses a second. */
  socket: () => Promise<unknown>;
  /** `undefined` parameters are sent as `NULL`. */
  transform: { undefined: null };
  /** No role check (the pool does its own); postgres.js still reads `PGTARGETSESSIONATTRS`. */
  target_session_attrs: undefined;
  /** Fixed so the environment cannot change them (`PGSSLNEGOTIATION`). */
  sslnegotiation: null;
  /** Fixed so the environment cannot change them. */
  keep_alive: number;
  /** Fixed so the environment cannot change them (no reconnects happen anyway). */
  backoff: () => number;
  /** Fixed so the environment cannot change them. */
  max_pipeline: number;
  /** Fixed so the environment cannot change them. */
  debug: false;
  /** Fixed so the environment cannot change them. */
  publications: string;
  /** Skips building the logical-replication helper (a second instance) that this adapter never uses. */
  no_subscribe: true;
}

/**
 * postgres.js's default export, `postgres(options)`. Typed by what this
 * adapter passes and uses, declared as a method so that the real, overloaded
 * and generic `postgres` of any 3.x version fits.
 *
 * @example
 * ```ts ignore
 * import postgres from "npm:postgres@3";
 * import type { PostgresjsFactory } from "@x/pgdbpool/postgresjs";
 * const factory: PostgresjsFactory = postgres;
 * ```
 */
export type PostgresjsFactory = {
  postgres(options: PostgresjsClientOptions): PostgresjsSql;
}["postgres"];

/**
 * Options of {@linkcode postgresjs}.
 *
 * @example postgres.js imported by the application (Deno)
 * ```ts ignore
 * import postgres from "npm:postgres@3";
 * import { postgresjs } from "@x/pgdbpool/postgresjs";
 * const driver = postgresjs({ postgres, prepare: false, fetchTypes: false });
 * ```
 */
export interface PostgresjsOptions {
  /**
   * Use named prepared statements: parameterised queries and single
   * parameterless statements are parsed once per session and then only bound
   * and executed. `false` sends parameterless text with the simple protocol
   * and parameterised text as unnamed statements (postgres.js then needs two
   * round trips per query and cannot pipeline them: use it only when
   * something between you and the server, such as PgBouncer in transaction
   * mode, cannot keep prepared statements).
   *
   * @default {true}
   */
  prepare?: boolean;
  /**
   * Fetch the array types at connect (postgres.js's `fetch_types`), one extra
   * catalog query per connection (about 2 ms on a local server). Without it,
   * array columns come back as strings such as `"{1,2}"` and JavaScript arrays
   * cannot be sent as parameters.
   *
   * @default {true}
   */
  fetchTypes?: boolean;
  /**
   * postgres.js's default export, when you import it yourself (on Deno:
   * `import postgres from "npm:postgres"`). When omitted, the bare specifier
   * `"postgres"` is imported on the first connect, so importing this module
   * loads nothing.
   *
   * @default {undefined}
   */
  postgres?: PostgresjsFactory;
}

/**
 * Builds a {@linkcode Driver} on postgres.js.
 *
 * Connect-parameter mapping: `settings` become startup parameters (session
 * defaults, so `RESET ALL` returns to them; `application_name` defaults to
 * `"pgdbpool"`). TLS (`ssl`): `disable` none; `allow` and `prefer` try TLS
 * without verifying and fall back to plaintext when the server has no TLS
 * (`allow` thus tries TLS first, unlike libpq); `require` insists on TLS
 * without verifying, unless `sslRootCert` is given, which makes it `verify-ca`
 * (as in libpq); `verify-ca` verifies the chain against `sslRootCert` (or the
 * system roots) but not the host name; `verify-full` verifies both.
 * `NODE_TLS_REJECT_UNAUTHORIZED` does not weaken the verifying modes. A host
 * starting with `/` is a Unix socket directory (TLS is not used there, as in
 * libpq). `undefined` parameters are sent as `NULL`.
 *
 * @param options Prepared statements, type fetching, and the `postgres` factory.
 * @returns A driver that opens one postgres.js instance (one session) per connection.
 * @throws {TypeError} When `options.postgres` is given but is not a function.
 *
 * @example Open one session directly
 * ```ts ignore
 * import { postgresjs } from "@x/pgdbpool/postgresjs";
 *
 * const conn = await postgresjs().connect({
 *   host: "localhost",
 *   port: 5432,
 *   database: "app",
 *   user: "app",
 *   password: "secret",
 *   ssl: "prefer",
 *   sslRootCert: undefined,
 *   connectTimeoutMs: 10_000,
 *   settings: { application_name: "demo", statement_timeout: "5000" },
 * });
 * const { rows, command } = await conn.query("SELECT $1::int + 1 AS n", [41]);
 * console.log(rows[0].n, command); // 42 "SELECT"
 * await conn.close();
 * ```
 */
export function postgresjs(options: PostgresjsOptions = {}): Driver {
  const given = options.postgres;
  if (given !== undefined && typeof given !== "function") {
    throw new TypeError(
      `Cannot build the postgres.js driver: "postgres" must be postgres.js's default export (a function), received ${typeof given}`,
    );
  }
  const prepare = options.prepare ?? true;
  const fetchTypes = options.fetchTypes ?? true;
  let loading: Promise<PostgresjsFactory> | undefined;
  return {
    name: "postgresjs",
    async connect(params: ConnectParams): Promise<DriverConnection> {
      const factory = given ?? await (loading ??= loadPostgres());
      loading?.catch(() => (loading = undefined));
      return open(factory, params, prepare, fetchTypes);
    },
  };
}

async function loadPostgres(): Promise<PostgresjsFactory> {
  let mod: { default?: unknown };
  try {
    mod = await import("postgres");
  } catch (err) {
    throw new Error(
      'Cannot load postgres.js: install the npm package "postgres" or pass it as postgresjs({ postgres })',
      { cause: err },
    );
  }
  if (typeof mod.default !== "function") {
    throw new TypeError('Cannot load postgres.js: the module "postgres" has no default export');
  }
  return mod.default as PostgresjsFactory;
}

type NetModule = typeof import("node:net");
type NetSocket = import("node:net").Socket;
type TlsModule = typeof import("node:tls");

let netModule: Promise<NetModule> | undefined;
let tlsModule: Promise<TlsModule> | undefined;

// Loaded on first connect, not at import: importing this module stays free.
function loadNet(): Promise<NetModule> {
  return netModule ??= import("node:net");
}

function loadTls(): Promise<TlsModule> {
  return tlsModule ??= import("node:tls");
}

// Per-query options, shared (postgres.js copies them into each query).
const NAMED = { prepare: true, simple: false };
const UNNAMED = { prepare: false };
const SIMPLE = { simple: true };
const EMPTY: unknown[] = [];

async function open(
  postgres: PostgresjsFactory,
  params: ConnectParams,
  prepare: boolean,
  fetchTypes: boolean,
): Promise<DriverConnection> {
  const net = await loadNet();
  const label = endpointLabel(params.host, params.port);
  const viaSocketFile = params.host.startsWith("/");
  const password = params.password ?? "";
  // The one socket this instance may ever use: the factory below refuses a second.
  let socket: NetSocket | undefined;
  let established = false;
  const conn = new PostgresjsConnection(prepare, label, () => socket);

  const sql = postgres({
    host: params.host,
    port: params.port,
    user: params.user,
    database: params.database,
    pass: () => password,
    max: 1,
    max_lifetime: 0,
    idle_timeout: 0,
    connect_timeout: 0,
    fetch_types: fetchTypes,
    prepare,
    ssl: false,
    connection: { application_name: "pgdbpool", ...params.settings },
    onnotice: noop,
    onclose: () => conn.lost(undefined),
    socket: () => {
      if (socket !== undefined) {
        // postgres.js wants a new socket: it is reconnecting. Never.
        throw Object.assign(
          new Error(
            established
              ? `The session to ${label} has ended; a pgdbpool connection never reconnects`
              : `The connection to ${label} closed before the session was established`,
          ),
          { code: "CONNECTION_CLOSED" },
        );
      }
      const raw = net.connect(
        viaSocketFile
          ? { path: `${params.host}/.s.PGSQL.${params.port}` }
          : { host: params.host, port: params.port },
      );
      socket = raw;
      return connected(raw).then((s) => {
        s.setNoDelay(true);
        // TLS is not used over a Unix socket, as in libpq.
        return viaSocketFile || params.ssl === "disable" ? s : startTls(s, params, label, net);
      });
    },
    transform: { undefined: null },
    target_session_attrs: undefined,
    sslnegotiation: null,
    keep_alive: 60,
    backoff: () => 0,
    max_pipeline: 100,
    debug: false,
    publications: "alltables",
    no_subscribe: true,
  });
  conn.attach(sql);

  // An empty simple query: one round trip that proves the session is up
  // (after the array-type fetch, when enabled) without touching a table.
  const ready = Promise.resolve(sql.unsafe("", EMPTY, SIMPLE));
  try {
    await withConnectTimeout(ready, params.connectTimeoutMs, label, () => {
      conn.lost(undefined);
    });
  } catch (err) {
    conn.lost(err);
    throw err;
  }
  established = true;
  return conn;
}

function connected(socket: NetSocket): Promise<NetSocket> {
  return new Promise<NetSocket>((resolve, reject) => {
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

// SSLRequest: length 8, code 80877103.
const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);

/**
 * Asks the server for TLS and, when it agrees, wraps the socket. Done here
 * rather than by postgres.js so that every mode behaves as documented and a
 * server without TLS gets a clear error.
 */
async function startTls(
  raw: NetSocket,
  params: ConnectParams,
  label: string,
  net: NetModule,
): Promise<NetSocket> {
  const mode = params.ssl;
  raw.write(SSL_REQUEST);
  const answer = await new Promise<Uint8Array>((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      done();
      resolve(chunk);
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(tlsError(`${label} closed the connection when asked for TLS`, mode, "TLS_FAILED"));
    };
    const done = () => {
      raw.off("data", onData);
      raw.off("error", onError);
      raw.off("close", onClose);
    };
    raw.once("data", onData);
    raw.once("error", onError);
    raw.once("close", onClose);
  });
  // The server answers one byte and waits: anything more was not sent by it
  // (bytes injected ahead of the handshake must never pass as protected).
  if (answer.length !== 1 || (answer[0] !== 83 && answer[0] !== 78)) {
    raw.destroy();
    throw tlsError(`${label} answered the TLS request with unexpected data`, mode, "TLS_FAILED");
  }
  // "N": this server has no TLS.
  if (answer[0] === 78) {
    if (mode === "allow" || mode === "prefer") return raw;
    raw.destroy();
    throw tlsError(`${label} does not support TLS`, mode, "TLS_NOT_AVAILABLE");
  }
  const tls = await loadTls();
  const secure = tls.connect({
    socket: raw,
    ...tlsOptions(mode, params.sslRootCert, params.host, net),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      secure.off("secureConnect", onSecure);
      reject(err);
    };
    const onSecure = () => {
      secure.off("error", onError);
      resolve();
    };
    secure.once("error", onError);
    secure.once("secureConnect", onSecure);
  });
  return secure;
}

function tlsError(message: string, mode: SslMode, code: string): Error {
  return Object.assign(new Error(`Cannot connect with ssl=${mode}: ${message}`), { code });
}

/** `tls.connect` options for a libpq TLS mode (`disable` never gets here). */
function tlsOptions(
  mode: SslMode,
  rootCert: string | undefined,
  host: string,
  net: NetModule,
): Record<string, unknown> {
  // `host` is what the certificate is checked against; `servername` (SNI)
  // must not be an IP address.
  const options: Record<string, unknown> = { host };
  if (net.isIP(host) === 0) options.servername = host;
  const verify = mode === "verify-ca" || mode === "verify-full" ||
    (mode === "require" && rootCert !== undefined);
  // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED cannot turn verification off.
  options.rejectUnauthorized = verify;
  if (verify) {
    if (rootCert !== undefined) options.ca = rootCert;
    if (mode !== "verify-full") options.checkServerIdentity = noop;
  }
  return options;
}

function noop(): undefined {
  return undefined;
}

// postgres.js's own errors for input it refuses before anything is sent.
const REFUSAL_CODES = new Set(["UNDEFINED_VALUE", "MAX_PARAMETERS_EXCEEDED"]);

interface PostgresjsServerError extends Error {
  code: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
}

function isServerError(err: unknown): err is PostgresjsServerError {
  return err instanceof Error && err.name === "PostgresError" &&
    typeof (err as { code?: unknown }).code === "string";
}

class PostgresjsConnection implements DriverConnection {
  #sql!: PostgresjsSql;
  readonly #prepare: boolean;
  readonly #label: string;
  readonly #socket: () => NetSocket | undefined;
  #closed = false;
  #cause: unknown;
  #pending = 0;
  #ending: Promise<void> | undefined;

  constructor(prepare: boolean, label: string, socket: () => NetSocket | undefined) {
    this.#prepare = prepare;
    this.#label = label;
    this.#socket = socket;
  }

  /** Sets the instance; called once, before any callback of that instance can fire. */
  attach(sql: PostgresjsSql): void {
    this.#sql = sql;
  }

  get closed(): boolean {
    return this.#closed;
  }

  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    if (this.#closed) {
      return Promise.reject(
        Object.assign(
          new Error(`Cannot query: the postgres.js session to ${this.#label} has ended`, {
            cause: this.#cause,
          }),
          { code: "CONNECTION_CLOSED" },
        ),
      );
    }
    // Whether nothing else was in flight when this query was handed over: see #translate.
    const alone = this.#pending++ === 0;
    const pending = params !== undefined && params.length > 0
      ? this.#sql.unsafe(text, params as unknown[], this.#prepare ? NAMED : UNNAMED)
      : this.#sql.unsafe(
        text,
        EMPTY,
        this.#prepare && isSingleStatement(text) ? NAMED : SIMPLE,
      );
    return pending.then(
      (result) => {
        this.#pending--;
        return toDriverResult(result);
      },
      (err) => {
        this.#pending--;
        throw this.#translate(err, alone);
      },
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#ending ??= this.#shutdown();
  }

  /** The session is gone (socket closed, fatal error, timeout): refuse everything from now on. */
  lost(cause: unknown): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#cause = cause;
    }
    // Nothing useful can cross this socket any more (it may still be
    // connecting, or stalled): drop it now rather than end it politely.
    const socket = this.#socket();
    if (socket !== undefined && !socket.destroyed) socket.destroy();
    // Rejects whatever postgres.js still holds (queued queries would
    // otherwise wait for a reconnect that the socket factory refuses).
    this.#ending ??= this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    try {
      await this.#sql.end({ timeout: 0 });
    } catch {
      // Ending never fails the caller.
    }
    const socket = this.#socket();
    if (socket === undefined || socket.destroyed) return;
    // postgres.js has sent Terminate and ended its side; wait for the socket
    // to close, but not for a server that never answers.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #translate(err: unknown, alone: boolean): unknown {
    if (isServerError(err)) {
      if (endsSession(err.severity)) {
        this.lost(err);
        return err;
      }
      return toQueryError(err, err);
    }
    if (this.#closed) return err;
    // postgres.js refuses some input while building the query. When another
    // query is in flight, it rejects that one instead and leaves the refused
    // one queued but never sent, so replies would be matched to the wrong
    // queries from then on: a refusal is survivable only when this query was
    // alone both when handed over and now.
    if (alone && this.#pending === 0 && isRefusal(err)) {
      return new QueryError((err as Error).message, { cause: err });
    }
    this.lost(err);
    return err;
  }
}

function isRefusal(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && REFUSAL_CODES.has(code);
}

function toDriverResult(result: PostgresjsResult): DriverResult {
  let last = result;
  // Several statements (simple protocol) resolve to an array of results.
  if (last.command === undefined && last.length > 0 && Array.isArray(last[0])) {
    last = last[last.length - 1] as unknown as PostgresjsResult;
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
