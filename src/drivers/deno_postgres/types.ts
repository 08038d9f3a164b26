/**
 * deno-postgres (`@db/postgres`) as the deno-postgres adapter sees it:
 * structural types for its `Client` class, the client options the adapter
 * sets, and the array results it reads. Typed by what the adapter uses, so
 * this package imports nothing from JSR and fits any deno-postgres version
 * with that shape (tested with 0.19.5).
 *
 * Re-exported by the `@x/pgdbpool/deno-postgres` entry point.
 *
 * @module
 */

/**
 * deno-postgres TLS options, as this adapter sets them.
 *
 * @example TLS if the server offers it, trusting one extra CA
 * ```ts ignore
 * import type { DenoPostgresTlsOptions } from "@x/pgdbpool/deno-postgres";
 *
 * declare const caPem: string;
 * const tls: DenoPostgresTlsOptions = { enabled: true, enforce: false, caCertificates: [caPem] };
 * ```
 */
export interface DenoPostgresTlsOptions {
  /** Ask the server for TLS. */
  enabled: boolean;
  /** Fail when the server does not speak TLS or its certificate does not verify. */
  enforce: boolean;
  /** PEM certificates trusted on top of the system roots. */
  caCertificates: string[];
}

/**
 * The deno-postgres `Client` options this adapter sets (a subset of its `ClientOptions`).
 *
 * @example A client over a Unix socket, connecting once
 * ```ts ignore
 * import type { DenoPostgresClientOptions } from "@x/pgdbpool/deno-postgres";
 *
 * const options: DenoPostgresClientOptions = {
 *   hostname: "/var/run/postgresql",
 *   port: 5432,
 *   host_type: "socket",
 *   user: "app",
 *   password: "",
 *   database: "app",
 *   applicationName: "pgdbpool",
 *   options: { statement_timeout: "5000" },
 *   connection: { attempts: 0 },
 * };
 * ```
 */
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
  /** deno-postgres's `controls` option: the driver's `controls` option with the adapter's decoders. */
  controls?: object;
}

/**
 * The part of a deno-postgres `QueryArrayResult` this adapter reads.
 *
 * @example Name the values of the first row
 * ```ts ignore
 * import type { DenoPostgresArrayResult, DenoPostgresClient } from "@x/pgdbpool/deno-postgres";
 *
 * declare const client: DenoPostgresClient;
 * const result: DenoPostgresArrayResult = await client.queryArray("SELECT 1 AS n");
 * console.log(result.rowDescription?.columns[0].name, result.rows[0][0]); // "n" 1
 * ```
 */
export interface DenoPostgresArrayResult {
  /** Rows as arrays, in column order. */
  rows: unknown[][];
  /** Rows returned or affected; `NaN` or absent for commands without a count. */
  rowCount?: number;
  /** First word of the command tag, e.g. `"SELECT"`; absent for an empty query. */
  command?: string;
  /** Column descriptions; absent when the command returns no rows. */
  readonly rowDescription?: { readonly columns: readonly { readonly name: string }[] };
  /** The notices the server sent while the query ran (`severity`, `code`, `message`…). */
  readonly warnings?: readonly unknown[];
}

/**
 * The part of a deno-postgres `Client` instance this adapter uses.
 *
 * @example Connect, query, end
 * ```ts ignore
 * import type { DenoPostgresClient } from "@x/pgdbpool/deno-postgres";
 *
 * declare const client: DenoPostgresClient;
 * await client.connect();
 * await client.queryArray("SELECT $1::int", [1]);
 * await client.end();
 * ```
 */
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

/**
 * deno-postgres's `Client` class, typed by what this adapter uses.
 *
 * @example deno-postgres's Client class fits the constructor type
 * ```ts ignore
 * import { Client } from "@db/postgres";
 * import type { DenoPostgresClientConstructor } from "@x/pgdbpool/deno-postgres";
 *
 * const ctor: DenoPostgresClientConstructor = Client;
 * ```
 */
export type DenoPostgresClientConstructor = new (
  options: DenoPostgresClientOptions,
) => DenoPostgresClient;
