/**
 * The deno-postgres adapter: runs the pool on deno-postgres (JSR package
 * `@db/postgres`, github.com/denodrivers/postgres), Deno only.
 *
 * You pass deno-postgres's own `Client` class, so this module imports nothing
 * from JSR and works with whichever deno-postgres version you installed
 * (it is tested with 0.19.5). Each pool connection is one `Client`, one session.
 *
 * deno-postgres reconnects a disconnected client by itself on its next query
 * when its `connection.attempts` option is 1 or more (1 is its default). The
 * adapter sets `attempts: 0` (connect once, never reconnect) and, on top of
 * that, never touches a client again once its session is gone, so a dropped
 * session is reported to the pool instead of being silently replaced.
 *
 * @example Use deno-postgres for the default pool
 * ```ts ignore
 * import { Client } from "@db/postgres";
 * import { init, withHandler } from "@x/pgdbpool";
 * import { denoPostgres } from "@x/pgdbpool/deno-postgres";
 *
 * init({
 *   db: "postgres://app@db1,db2/app",
 *   groups: { default: { connection_count: 10 } },
 *   driver: denoPostgres({ Client }),
 * });
 * const { rows } = await withHandler("default", (db) => db.query("SELECT now() AS t"));
 * ```
 *
 * @module
 */
import type { ConnectParams, Driver, DriverConnection, DriverResult, SslMode } from "../driver.ts";
import { QueryError } from "../errors.ts";

/** deno-postgres TLS options, as this adapter sets them. */
export interface DenoPostgresTlsOptions {
  /** Ask the server for TLS. */
  enabled: boolean;
  /** Fail when the server does not speak TLS or its certificate does not verify. */
  enforce: boolean;
  /** PEM certificates trusted on top of the system roots. */
  caCertificates: string[];
}

/** The deno-postgres `Client` options this adapter sets (a subset of its `ClientOptions`). */
export interface DenoPostgresClientOptions {
  /** Host name, IP address, or Unix socket directory. */
  hostname: string;
  /** TCP port (also names the Unix socket file). */
  port: number;
  /** `"socket"` for a Unix socket directory, else `"tcp"`. */
  host_type: "tcp" | "socket";
  /** User name. */
  user: string;
  /** Password (`""` when none, so deno-postgres never falls back to `PGPASSWORD`). */
  password: string;
  /** Database name. */
  database: string;
  /** `application_name`, sent as a startup parameter. */
  applicationName: string;
  /** Other startup settings, sent in the startup `options` parameter as `-c key=value`. */
  options: Record<string, string>;
  /** TLS options; absent for Unix sockets (deno-postgres rejects them there). */
  tls?: DenoPostgresTlsOptions;
  /** Reconnect policy: always `{ attempts: 0 }` (connect once, never reconnect). */
  connection: { attempts: number };
  /** deno-postgres's `controls` option, passed through from {@linkcode DenoPostgresOptions}. */
  controls?: object;
}

/** The part of a deno-postgres `QueryArrayResult` this adapter reads. */
export interface DenoPostgresArrayResult {
  /** Rows as arrays, in column order. */
  rows: unknown[][];
  /** Rows returned or affected; `NaN` or absent for commands without a count. */
  rowCount?: number;
  /** First word of the command tag, e.g. `"SELECT"`; absent for an empty query. */
  command?: string;
  /** Column descriptions; absent when the command returns no rows. */
  readonly rowDescription?: { readonly columns: readonly { readonly name: string }[] };
}

/** The part of a deno-postgres `Client` instance this adapter uses. */
export interface DenoPostgresClient {
  /** Whether the client believes its session is open. */
  readonly connected: boolean;
  /** Opens the session. */
  connect(): Promise<void>;
  /** Runs one query, rows as arrays. */
  queryArray(text: string, args?: unknown[]): Promise<DenoPostgresArrayResult>;
  /** Ends the session. */
  end(): Promise<void>;
}

/** deno-postgres's `Client` class, typed by what this adapter uses. */
export type DenoPostgresClientConstructor = new (
  options: DenoPostgresClientOptions,
) => DenoPostgresClient;

/** Options of {@linkcode denoPostgres}. */
export interface DenoPostgresOptions {
  /** deno-postgres's `Client` class: `import { Client } from "@db/postgres"`. */
  Client: DenoPostgresClientConstructor;
  /**
   * deno-postgres's `controls` client option (`decodeStrategy`, `decoders`),
   * passed to every client as is. By default deno-postgres decodes values
   * (`int8` as `bigint`, `json` as objects, timestamps as `Date`).
   *
   * @default {undefined}
   */
  controls?: object;
}

/**
 * Builds a {@linkcode Driver} on deno-postgres. Deno only (deno-postgres uses
 * `Deno.connect`).
 *
 * Mapping of the connect parameters: `settings.application_name` becomes the
 * `application_name` startup parameter and every other setting goes into the
 * startup `options` (`-c key=value`), so `RESET ALL` returns to them. TLS:
 * `disable` asks for none; `allow` and `prefer` ask for TLS and fall back to
 * plaintext; `require`, `verify-ca` and `verify-full` insist on TLS. deno-postgres
 * always verifies the server certificate and host name (against the system
 * roots plus `sslRootCert`), so with `require` a self-signed server needs its
 * CA in `sslRootCert`, and with `prefer` an unverifiable certificate means
 * plaintext (deno-postgres prints a warning). Without `settings.application_name`
 * the session is named `"pgdbpool"`.
 *
 * Latency: over TCP, deno-postgres (0.19.5) writes the five messages of a query
 * with parameters one by one on a socket without `TCP_NODELAY`, so on Linux each
 * such query waits about 40 ms for the server's delayed ACK (queries without
 * parameters take one write and are not affected). Unix sockets (`host`
 * starting with `/`) do not have this delay.
 *
 * @param options deno-postgres's `Client` class and optional `controls`.
 * @returns A driver that opens one deno-postgres `Client` per connection.
 * @throws {TypeError} When `options.Client` is not a class.
 *
 * @example Open one session directly
 * ```ts ignore
 * import { Client } from "@db/postgres";
 * import { denoPostgres } from "@x/pgdbpool/deno-postgres";
 *
 * const driver = denoPostgres({ Client });
 * const conn = await driver.connect({
 *   host: "localhost",
 *   port: 5432,
 *   database: "app",
 *   user: "app",
 *   password: "secret",
 *   ssl: "disable",
 *   sslRootCert: undefined,
 *   connectTimeoutMs: 10_000,
 *   settings: { application_name: "demo", statement_timeout: "5000" },
 * });
 * const { rows } = await conn.query("SELECT $1::int + 1 AS n", [41]);
 * console.log(rows[0].n); // 42
 * await conn.close();
 * ```
 */
export function denoPostgres(options: DenoPostgresOptions): Driver {
  const Client = options?.Client;
  if (typeof Client !== "function") {
    throw new TypeError(
      `Cannot build the deno-postgres driver: "Client" must be deno-postgres's Client class, received ${typeof Client}`,
    );
  }
  const controls = options.controls;
  return {
    name: "deno-postgres",
    connect(params: ConnectParams): Promise<DriverConnection> {
      return connect(Client, controls, params);
    },
  };
}

async function connect(
  Client: DenoPostgresClientConstructor,
  controls: object | undefined,
  params: ConnectParams,
): Promise<DriverConnection> {
  const client = new Client(clientOptions(params, controls));
  const connecting = client.connect();
  const timeoutMs = params.connectTimeoutMs;
  if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) {
    await connecting;
    return new DenoPostgresConnection(client);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([connecting, timedOut]);
    if (outcome === "timeout") {
      // deno-postgres cannot abort a connect in flight: let it finish in the
      // background and end the session it may still open, so nothing leaks.
      connecting.then(() => client.end()).catch(() => {});
      throw new Error(
        `Connecting to ${params.host}:${params.port} with deno-postgres timed out after ${timeoutMs} ms`,
      );
    }
  } finally {
    clearTimeout(timer);
  }
  return new DenoPostgresConnection(client);
}

function clientOptions(
  params: ConnectParams,
  controls: object | undefined,
): DenoPostgresClientOptions {
  const socket = params.host.startsWith("/");
  const { application_name: applicationName, ...settings } = params.settings;
  const options: Record<string, string> = {};
  // deno-postgres escapes spaces in option values but not backslashes, which
  // the server also reads as escapes: double them first.
  for (const [key, value] of Object.entries(settings)) {
    options[key] = value.replaceAll("\\", "\\\\");
  }
  const result: DenoPostgresClientOptions = {
    hostname: params.host,
    port: params.port,
    host_type: socket ? "socket" : "tcp",
    user: params.user,
    password: params.password ?? "",
    database: params.database,
    applicationName: applicationName ?? "pgdbpool",
    options,
    // 0, not 1: with attempts >= 1 deno-postgres opens a new session on the
    // next query after a disconnect; with 0 it connects once and then refuses.
    connection: { attempts: 0 },
  };
  if (!socket) result.tls = tlsOptions(params.ssl, params.sslRootCert);
  if (controls !== undefined) result.controls = controls;
  return result;
}

function tlsOptions(ssl: SslMode, sslRootCert: string | undefined): DenoPostgresTlsOptions {
  const caCertificates = sslRootCert === undefined ? [] : [sslRootCert];
  switch (ssl) {
    case "disable":
      return { enabled: false, enforce: false, caCertificates };
    case "allow":
    case "prefer":
      return { enabled: true, enforce: false, caCertificates };
    default:
      return { enabled: true, enforce: true, caCertificates };
  }
}

// Errors after which the session is still usable: the server's (non-fatal)
// errors and the driver's own encode/decode errors. Anything else (socket
// errors such as BrokenPipe, deno-postgres's ConnectionError) means the
// session is gone or its protocol state is unknown.
const RECOVERABLE_ERROR_NAMES = new Set(["Error", "TypeError", "RangeError", "SyntaxError"]);

interface PostgresErrorShape {
  name: string;
  message: string;
  fields: {
    severity?: string;
    code?: string;
    detail?: string;
    hint?: string;
    position?: string;
  };
}

function isPostgresError(err: unknown): err is PostgresErrorShape {
  return err instanceof Error && err.name === "PostgresError" &&
    typeof (err as Partial<PostgresErrorShape>).fields === "object";
}

/** One query handed to {@linkcode DenoPostgresConnection.query} and not yet settled. */
interface Pending {
  reject(err: unknown): void;
}

class DenoPostgresConnection implements DriverConnection {
  #client: DenoPostgresClient;
  #closed = false;
  #lost = false;
  #lostBy: unknown;
  #ending: Promise<void> | undefined;
  // Queries run one at a time through this chain, never queued inside
  // deno-postgres: when a session drops, deno-postgres swaps its internal
  // query lock for a new one and the queries waiting on the old lock never
  // settle. Queued here, they are rejected as soon as the session is gone.
  #tail: Promise<void> = Promise.resolve();
  #pending = new Set<Pending>();

  constructor(client: DenoPostgresClient) {
    this.#client = client;
  }

  get closed(): boolean {
    if (!this.#closed && !this.#client.connected) this.#markLost(undefined);
    return this.#closed;
  }

  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    // Never hand a dead client a query: that is where deno-postgres would reconnect.
    if (this.closed) return Promise.reject(this.#endedError());
    const args = params ? [...params] : [];
    return new Promise<DriverResult>((resolve, reject) => {
      const entry: Pending = { reject };
      this.#pending.add(entry);
      this.#tail = this.#tail.then(async () => {
        // Rejected already by close() or by a lost session.
        if (!this.#pending.has(entry)) return;
        try {
          const result = toDriverResult(await this.#client.queryArray(text, args));
          if (this.#pending.delete(entry)) resolve(result);
        } catch (err) {
          if (this.#pending.delete(entry)) reject(this.#translate(err));
        }
      });
    });
  }

  close(): Promise<void> {
    this.#end();
    return this.#ending!;
  }

  #translate(err: unknown): unknown {
    if (this.#closed) return err;
    if (isPostgresError(err)) {
      const severity = err.fields.severity;
      if (severity === "FATAL" || severity === "PANIC" || !this.#client.connected) {
        this.#markLost(err);
        return err;
      }
      const position = err.fields.position === undefined ? undefined : Number(err.fields.position);
      return new QueryError(err.message, {
        code: err.fields.code,
        detail: err.fields.detail,
        hint: err.fields.hint,
        position: Number.isFinite(position) ? position : undefined,
        cause: err,
      });
    }
    const name = err instanceof Error ? err.name : "";
    const message = err instanceof Error ? err.message : "";
    // "Unexpected …" errors come from deno-postgres's protocol loops: the
    // rest of the server's reply is unread, so the session cannot be trusted.
    if (
      !this.#client.connected || !RECOVERABLE_ERROR_NAMES.has(name) ||
      message.startsWith("Unexpected ")
    ) {
      this.#markLost(err);
      return err;
    }
    // Refused by the driver (argument encoding, result decoding); the
    // session is intact.
    return new QueryError(message || String(err), { cause: err });
  }

  #markLost(err: unknown): void {
    this.#lost = true;
    this.#lostBy = err;
    this.#end();
  }

  /** Marks the session closed, rejects every query not yet settled, ends the client once. */
  #end(): void {
    this.#closed = true;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const entry of pending) entry.reject(this.#endedError());
    // deno-postgres's end() rejects when its socket is already broken;
    // nothing more can be done then.
    this.#ending ??= this.#client.end().catch(() => {});
  }

  #endedError(): Error {
    const what = this.#lost ? "was lost" : "has been closed";
    return new Error(`Cannot query: the deno-postgres session ${what}`, { cause: this.#lostBy });
  }
}

function toDriverResult(result: DenoPostgresArrayResult): DriverResult {
  const columns = result.rowDescription?.columns;
  const rows: Record<string, unknown>[] = [];
  if (columns) {
    for (const values of result.rows) {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) {
        const name = columns[i].name;
        // A column named __proto__ must become a property, not the prototype.
        if (name === "__proto__") {
          Object.defineProperty(row, name, {
            value: values[i],
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          row[name] = values[i];
        }
      }
      rows.push(row);
    }
  }
  const rowCount = result.rowCount;
  return {
    rows,
    // deno-postgres leaves rowCount NaN for tags without a count (BEGIN, CREATE TABLE).
    rowCount: typeof rowCount === "number" && Number.isFinite(rowCount) ? rowCount : rows.length,
    command: (result.command ?? "").toUpperCase(),
  };
}
