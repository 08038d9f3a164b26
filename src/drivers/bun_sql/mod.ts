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
 * never reconnects either): a reserved connection costs more per pipelined
 * query (on Bun 1.4.5, 1.07–1.10× the client CPU of `max: 1` instances, and
 * ten such instances cost no more than one `max: 10` pool), and the instance
 * needs no release bookkeeping and has a `connect()` that opens the session
 * up front.
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
import type { ConnectParams, Driver, DriverConnection } from "../../driver.ts";
import * as sessionStart from "../shared/connect.ts";
import { nodeTlsOptions, tlsPolicy } from "../shared/tls.ts";
import { BunSqlConnection } from "./connection.ts";
import type { BunGlobal, BunSqlClientOptions } from "./types.ts";

// The driver interface that bunSql() returns, so that this entry point documents it fully.
export type * from "../shared/contract.ts";

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
 * The connect parameters mean what {@linkcode ConnectParams} says. TLS (`ssl`)
 * uses Bun's own modes: `disable`; `allow` and `prefer` (TLS when the server
 * offers it, unverified, else plaintext; Bun tries TLS first in both); `require` (TLS, unverified, unless `sslRootCert`
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
 * @example Bun.SQL sessions with named statements
 * ```ts ignore
 * import { createPool } from "@x/pgdbpool";
 * import { bunSql } from "@x/pgdbpool/bun-sql";
 *
 * const pool = createPool({ db: "postgres://app@db1/app", driver: bunSql({ prepare: true }), groups: { web: { connection_count: 10 } } });
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
        const label = sessionStart.endpointLabel(params.host, params.port);
        return Promise.reject(
          sessionStart.connectError(
            new Error("Bun.SQL exists only on Bun; use the postgres.js driver elsewhere"),
            label,
            "Bun.SQL",
          ),
        );
      }
      return open(bun, params, prepare && params.namedStatements !== false, templates);
    },
  };
}

async function open(
  bun: BunGlobal,
  params: ConnectParams,
  prepare: boolean,
  templates: Map<string, TemplateStringsArray>,
): Promise<DriverConnection> {
  const label = sessionStart.checkedLabel(params);
  const password = params.password ?? "";
  const timeoutMs = params.connectTimeoutMs;
  const conn = new BunSqlConnection(prepare, label, templates, timeoutMs);
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
    tls: tlsOption(params),
    connection: sessionStart.startupSettings(params.settings),
    onclose: (err) => conn.lost(err),
  });
  conn.attach(sql);
  try {
    await sessionStart.withConnectTimeout(
      sql.connect(),
      timeoutMs,
      label,
      () => conn.lost(undefined),
      params.signal,
    );
  } catch (err) {
    conn.lost(err);
    throw sessionStart.connectError(err, label, "Bun.SQL");
  }
  return conn;
}

/** Maps a libpq TLS mode to Bun.SQL's `tls` option. */
function tlsOption(params: ConnectParams): BunSqlClientOptions["tls"] {
  const policy = tlsPolicy(params.ssl, params.sslRootCert, params.host);
  if (!policy.request) return "disable";
  // Bun's own modes try TLS first and fall back, or insist without verifying.
  if (policy.fallback) return params.ssl;
  // An object with rejectUnauthorized: true means verify-full to Bun; a
  // checkServerIdentity that accepts everything takes the host check off.
  return policy.verifyChain ? nodeTlsOptions(policy) : "require";
}
