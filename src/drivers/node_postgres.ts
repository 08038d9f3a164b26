/**
 * The node-postgres adapter: runs the pool on npm `pg` (node-postgres,
 * github.com/brianc/node-postgres) on Deno, Bun and Node. Each pool connection
 * is one `pg.Client`: one socket, one server session. A `pg.Client` never
 * reconnects; this adapter watches its `end` and `error` events (and fatal
 * server errors) and reports `closed` from then on.
 *
 * Protocol choices (per query):
 * - `prepare: true` (the default): every single statement, with or without
 *   parameters, runs as a named prepared statement: parsed once per session,
 *   then only bound and executed. Names are stable per text (`pgdbpool_1`,
 *   `pgdbpool_2`…, shared by the driver's connections). Past
 *   `maxPrepared` distinct texts, new texts run unnamed instead.
 * - `prepare: false`: pg's own choice, as `pg.Pool` users get it: the simple
 *   protocol without parameters, an unnamed statement with.
 * - Several statements in one parameterless text (`;` other than at the end):
 *   always the simple protocol, the only one that accepts them; the result is
 *   the last statement's.
 *
 * After a text that may drop the server side of prepared statements
 * (`DEALLOCATE`, `DISCARD ALL`) the session switches to fresh statement
 * names, so the next use parses again instead of binding a statement that
 * may be gone. (Statements that were not dropped stay prepared until the
 * session ends.)
 *
 * Values come back as `pg` parses them (its defaults: `int8` and `numeric` as
 * strings, timestamps as `Date`); pass your own configured `pg` module to
 * change that with `pg.types.setTypeParser`.
 *
 * @example Use node-postgres as the pool's driver
 * ```ts ignore
 * import { init, withHandler } from "@x/pgdbpool";
 * import { nodePostgres } from "@x/pgdbpool/node-postgres";
 *
 * init({
 *   db: "postgres://app@db1,db2/app",
 *   groups: { default: { connection_count: 10 } },
 *   driver: nodePostgres(),
 * });
 * const { rows } = await withHandler("default", (db) => db.query("SELECT $1::int AS n", [42]));
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
  sessionEnded,
  toQueryError,
  withConnectTimeout,
} from "./normalize.ts";

/** A `pg` query result, as far as this adapter reads it. */
export interface NodePostgresResult {
  /** Rows as objects keyed by column name. */
  rows: Record<string, unknown>[];
  /** Rows returned or affected; `null` for commands without a count. */
  rowCount: number | null;
  /** The command tag's verb (`"SELECT"`, `"BEGIN"`…); `null` for an empty query. */
  command: string | null;
}

/** The part of `pg.Client` this adapter uses. */
export interface NodePostgresClient {
  /**
   * Opens the session.
   *
   * @returns When the session is ready.
   */
  connect(): Promise<void>;
  /**
   * Runs a query; with `name`, as a named prepared statement.
   *
   * @param config Text, values and optional statement name.
   * @returns One result, or one per statement for several statements.
   */
  query(
    config: { text: string; values?: unknown[]; name?: string },
  ): Promise<NodePostgresResult | NodePostgresResult[]>;
  /**
   * Ends the session.
   *
   * @returns When the socket is closed.
   */
  end(): Promise<void>;
  /**
   * Subscribes to `end` (the session is over) and `error` (the socket failed).
   *
   * @param event The event.
   * @param listener The listener.
   */
  on(event: "end" | "error" | "notice", listener: (arg?: unknown) => void): unknown;
}

/** The `pg` module (its default export), as far as this adapter uses it. */
export interface NodePostgresModule {
  /** `pg.Client`. */
  Client: new (config: Record<string, unknown>) => NodePostgresClient;
}

/** Options of {@linkcode nodePostgres}. */
export interface NodePostgresOptions {
  /**
   * The `pg` module (its default export), when you import it yourself (on
   * Deno: `import pg from "npm:pg"`), for instance with custom type parsers.
   * When omitted, the bare specifier `"pg"` is imported on the first connect,
   * so importing this module loads nothing.
   *
   * @default {undefined}
   */
  pg?: NodePostgresModule;
  /**
   * Run single statements as named prepared statements (parsed once per
   * session). `false` leaves the choice to `pg`: the simple protocol without
   * parameters, an unnamed statement with (use it when something between you
   * and the server, such as PgBouncer in transaction mode, cannot keep
   * prepared statements).
   *
   * @default {true}
   */
  prepare?: boolean;
  /**
   * Most distinct texts that get a prepared-statement name; later new texts
   * run unnamed. Bounds what each session keeps prepared on the server when
   * the SQL text varies.
   *
   * @default {1000}
   */
  maxPrepared?: number;
}

/**
 * Builds a {@linkcode Driver} on node-postgres (npm `pg`).
 *
 * Connect-parameter mapping: `settings` become startup parameters (session
 * defaults, so `RESET ALL` returns to them; `application_name` defaults to
 * `"pgdbpool"`). TLS (`ssl`): `disable` none; `allow` and `prefer` try TLS
 * without verifying and fall back to plaintext when the server has no TLS;
 * `require` insists on TLS without verifying, unless `sslRootCert` is given,
 * which makes it `verify-ca` (as in libpq); `verify-ca` verifies the chain
 * against `sslRootCert` (or the system roots) but not the host name;
 * `verify-full` verifies both. A host starting with `/` is a Unix socket
 * directory. `undefined` parameters are sent as `NULL` (as `pg` does).
 *
 * @param options The `pg` module, prepared statements, and their limit.
 * @returns A driver that opens one `pg.Client` (one session) per connection.
 * @throws {TypeError} When `options.pg` is given but has no `Client` class.
 *
 * @example Open one session directly
 * ```ts ignore
 * import { nodePostgres } from "@x/pgdbpool/node-postgres";
 *
 * const conn = await nodePostgres({ prepare: true }).connect({
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
export function nodePostgres(options: NodePostgresOptions = {}): Driver {
  const given = options.pg;
  if (given !== undefined && typeof given?.Client !== "function") {
    throw new TypeError(
      `Cannot build the node-postgres driver: "pg" must be the pg module (with a Client class), received ${typeof given}`,
    );
  }
  const names = options.prepare === false
    ? undefined
    : new StatementNames(options.maxPrepared ?? 1000);
  let loading: Promise<NodePostgresModule> | undefined;
  return {
    name: "node-postgres",
    async connect(params: ConnectParams): Promise<DriverConnection> {
      const pg = given ?? await (loading ??= loadPg());
      loading?.catch(() => (loading = undefined));
      return open(pg, params, names);
    },
  };
}

async function loadPg(): Promise<NodePostgresModule> {
  let mod: { default?: unknown; Client?: unknown };
  try {
    mod = await import("pg");
  } catch (err) {
    throw new Error(
      'Cannot load node-postgres: install the npm package "pg" or pass it as nodePostgres({ pg })',
      { cause: err },
    );
  }
  const pg = (mod.default ?? mod) as NodePostgresModule;
  if (typeof pg.Client !== "function") {
    throw new TypeError('Cannot load node-postgres: the module "pg" has no Client class');
  }
  return pg;
}

/** Stable statement names per text, shared by a driver's connections. */
class StatementNames {
  readonly #names = new Map<string, string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The name of `text`, or `undefined` when the limit is reached and it has none. */
  of(text: string): string | undefined {
    let name = this.#names.get(text);
    if (name === undefined && this.#names.size < this.#max) {
      name = `pgdbpool_${this.#names.size + 1}`;
      this.#names.set(text, name);
    }
    return name;
  }
}

async function open(
  pg: NodePostgresModule,
  params: ConnectParams,
  names: StatementNames | undefined,
): Promise<DriverConnection> {
  const label = endpointLabel(params.host, params.port);
  const { application_name, ...rest } = params.settings;
  const options = Object.entries(rest)
    .map(([k, v]) => `-c ${escapeOption(k)}=${escapeOption(v)}`)
    .join(" ");
  const base: Record<string, unknown> = {
    host: params.host,
    port: params.port,
    user: params.user,
    database: params.database,
    // A function, so pg never falls back to PGPASSWORD or ~/.pgpass.
    password: () => params.password ?? "",
    application_name: application_name ?? "pgdbpool",
    options: options === "" ? undefined : options,
    keepAlive: true,
  };
  const viaSocketFile = params.host.startsWith("/");
  const ssl = viaSocketFile ? false : sslConfig(params.ssl, params.sslRootCert);
  const fallback = !viaSocketFile && (params.ssl === "prefer" || params.ssl === "allow");
  try {
    return await connectOnce(pg, { ...base, ssl }, label, params.connectTimeoutMs, names);
  } catch (err) {
    // prefer/allow: the server has no TLS: go on in plaintext, as libpq does.
    if (!fallback || !/does not support SSL/i.test(String((err as Error)?.message))) throw err;
  }
  return await connectOnce(pg, { ...base, ssl: false }, label, params.connectTimeoutMs, names);
}

async function connectOnce(
  pg: NodePostgresModule,
  config: Record<string, unknown>,
  label: string,
  timeoutMs: number,
  names: StatementNames | undefined,
): Promise<DriverConnection> {
  const client = new pg.Client(config);
  const conn = new NodePostgresConnection(client, label, names);
  try {
    await withConnectTimeout(client.connect(), timeoutMs, label, () => conn.lost(undefined));
  } catch (err) {
    conn.lost(err);
    throw err;
  }
  return conn;
}

/** `options` startup value escaping: backslash before spaces and backslashes. */
function escapeOption(s: string): string {
  return s.replace(/[\\ ]/g, (c) => `\\${c}`);
}

function sslConfig(mode: SslMode, rootCert: string | undefined): unknown {
  const verify = (checkHost: boolean): Record<string, unknown> => {
    // pg sets `servername` (SNI, host-name check) itself when the host is not an IP address.
    const tls: Record<string, unknown> = { rejectUnauthorized: true };
    if (rootCert !== undefined) tls.ca = rootCert;
    if (!checkHost) tls.checkServerIdentity = () => undefined;
    return tls;
  };
  switch (mode) {
    case "disable":
      return false;
    case "allow":
    case "prefer":
      return { rejectUnauthorized: false };
    case "require":
      return rootCert === undefined ? { rejectUnauthorized: false } : verify(false);
    case "verify-ca":
      return verify(false);
    case "verify-full":
      return verify(true);
  }
}

interface PgServerError extends Error {
  code: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
}

// pg's DatabaseError carries the SQLSTATE in `code` and the severity; socket
// errors carry Node codes such as ECONNRESET (no severity).
function isServerError(err: unknown): err is PgServerError {
  const e = err as { code?: unknown; severity?: unknown } | null;
  return err instanceof Error && typeof e?.code === "string" && typeof e.severity === "string";
}

// Internal state of pg's Client read to tell a dead session from a refused query.
interface PgClientState {
  _ending?: boolean;
  _ended?: boolean;
  _queryable?: boolean;
  connection?: { stream?: { destroyed?: boolean } };
}

// Statements that may drop the server side of prepared statements.
const DROPS_STATEMENTS = /\bdeallocate\b|\bdiscard\s+all\b/i;

class NodePostgresConnection implements DriverConnection {
  readonly #client: NodePostgresClient;
  readonly #label: string;
  readonly #names: StatementNames | undefined;
  #closed = false;
  #cause: unknown;
  #ending: Promise<void> | undefined;
  // Bumped when the server may have dropped our statements: names get a new suffix.
  #generation = 0;

  constructor(client: NodePostgresClient, label: string, names: StatementNames | undefined) {
    this.#client = client;
    this.#label = label;
    this.#names = names;
    client.on("end", () => this.lost(undefined));
    // Without a listener, pg's `error` event would crash the process.
    client.on("error", (err) => this.lost(err));
    client.on("notice", () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    if (this.#closed) {
      return Promise.reject(
        sessionEnded("node-postgres", this.#label, this.#cause, "CONNECTION_CLOSED"),
      );
    }
    const values = params !== undefined && params.length > 0 ? params as unknown[] : undefined;
    const base = this.#names !== undefined && (values !== undefined || isSingleStatement(text))
      ? this.#names.of(text)
      : undefined;
    const name = base === undefined || this.#generation === 0
      ? base
      : `${base}_${this.#generation}`;
    return this.#client.query({ text, values, name }).then(
      (result) => {
        this.#watchDrops(text, base !== undefined, result);
        return this.#result(result);
      },
      (err) => {
        this.#watchDrops(text, base !== undefined, undefined);
        throw this.#translate(err);
      },
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#ending ??= this.#client.end().catch(() => {});
  }

  /** The session is gone (socket closed, fatal error, timeout): refuse everything from now on. */
  lost(cause: unknown): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#cause = cause;
    }
    this.#ending ??= this.#client.end().catch(() => {});
  }

  #result(result: NodePostgresResult | NodePostgresResult[]): DriverResult {
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    const command = commandVerb(last?.command);
    const rows = last?.rows ?? [];
    return {
      rows,
      rowCount: typeof last?.rowCount === "number" ? last.rowCount : rows.length,
      command,
    };
  }

  // A text that may have dropped server-side prepared statements (even one that
  // failed part-way: DEALLOCATE is not undone by a rollback) moves the session
  // to new statement names. Erring towards a switch costs a re-parse; erring
  // the other way would bind statements that no longer exist.
  #watchDrops(
    text: string,
    named: boolean,
    result: NodePostgresResult | NodePostgresResult[] | undefined,
  ): void {
    if (named && result !== undefined && !Array.isArray(result)) {
      const verb = result.command;
      if (verb !== "DEALLOCATE" && verb !== "DISCARD") return;
    }
    if (this.#names !== undefined && DROPS_STATEMENTS.test(text)) this.#generation++;
  }

  #translate(err: unknown): unknown {
    if (isServerError(err)) {
      if (endsSession(err.severity)) {
        this.lost(err);
        return err;
      }
      return toQueryError(err, err);
    }
    if (this.#closed || this.#dead()) {
      this.lost(err);
      return err;
    }
    // Refused before anything was sent (a value pg cannot serialise): the session is fine.
    return new QueryError((err as Error)?.message ?? String(err), { cause: err });
  }

  // pg marks the client before it rejects the queries of a dead socket.
  #dead(): boolean {
    const s = this.#client as unknown as PgClientState;
    return s._ending === true || s._ended === true || s._queryable === false ||
      s.connection?.stream?.destroyed === true;
  }
}
