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
import type { ConnectParams, Driver, DriverConnection } from "../../driver.ts";
import * as sessionStart from "../shared/connect.ts";
import { tlsPolicy } from "../shared/tls.ts";
import { DenoPostgresConnection } from "./connection.ts";
import { withValueShapes } from "./value_shapes.ts";
import type {
  DenoPostgresClientConstructor,
  DenoPostgresClientOptions,
  DenoPostgresTlsOptions,
} from "./types.ts";

export type {
  DenoPostgresArrayResult,
  DenoPostgresClient,
  DenoPostgresClientConstructor,
  DenoPostgresClientOptions,
  DenoPostgresTlsOptions,
} from "./types.ts";
// The driver interface that denoPostgres() returns, so that this entry point documents it fully.
export type * from "../shared/contract.ts";

/**
 * Options of {@linkcode denoPostgres}.
 *
 * @example int8 as bigint instead of an exact string
 * ```ts ignore
 * import { Client } from "@db/postgres";
 * import { denoPostgres } from "@x/pgdbpool/deno-postgres";
 *
 * const driver = denoPostgres({ Client, controls: { decoders: { 20: BigInt } } });
 * ```
 */
export interface DenoPostgresOptions {
  /** deno-postgres's `Client` class: `import { Client } from "@db/postgres"`. */
  Client: DenoPostgresClientConstructor;
  /**
   * deno-postgres's `controls` client option (`decodeStrategy`, `decoders`),
   * passed to every client. Values come back in the shapes every adapter
   * gives (README, "One shape of values"), through decoders the adapter
   * adds for the types deno-postgres decodes otherwise (`int8` as a string,
   * not a `bigint`; `float8` and `oid` as numbers; geometric types as the
   * server's text; `bytea` as a `Buffer`) and for the built-in arrays it
   * leaves unparsed. Your `decoders`, keyed by type oid, replace the
   * adapter's for that type and its arrays; `decodeStrategy: "string"`
   * turns all decoding off.
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
  const controls = withValueShapes(options.controls);
  return {
    name: "deno-postgres",
    connect(params: ConnectParams): Promise<DriverConnection> {
      return connect(Client, controls, params);
    },
  };
}

async function connect(
  Client: DenoPostgresClientConstructor,
  controls: object,
  params: ConnectParams,
): Promise<DriverConnection> {
  const label = sessionStart.checkedLabel(params);
  const client = new Client(clientOptions(params, controls));
  const connecting = client.connect();
  try {
    // deno-postgres cannot abort a connect in flight: on timeout or abort,
    // let it finish in the background and end the session it may still open.
    await sessionStart.withConnectTimeout(connecting, params.connectTimeoutMs, label, () => {
      connecting.then(() => client.end()).catch(() => {});
    }, params.signal);
  } catch (err) {
    throw sessionStart.connectError(err, label, "deno-postgres");
  }
  return new DenoPostgresConnection(client, label, params.onNotice);
}

function clientOptions(params: ConnectParams, controls: object): DenoPostgresClientOptions {
  const socket = params.host.startsWith("/");
  const { application_name: applicationName, ...settings } = sessionStart.startupSettings(
    params.settings,
  );
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
    applicationName,
    options,
    // 0, not 1: with attempts >= 1 deno-postgres opens a new session on the
    // next query after a disconnect; with 0 it connects once and then refuses.
    connection: { attempts: 0 },
    controls,
  };
  if (!socket) result.tls = tlsOptions(params);
  return result;
}

function tlsOptions(params: ConnectParams): DenoPostgresTlsOptions {
  // deno-postgres always verifies what it is given; the policy decides only
  // whether TLS is asked for and whether it is insisted on.
  const policy = tlsPolicy(params.ssl, params.sslRootCert, params.host);
  const caCertificates = params.sslRootCert === undefined ? [] : [params.sslRootCert];
  return { enabled: policy.request, enforce: policy.request && !policy.fallback, caCertificates };
}
