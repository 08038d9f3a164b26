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
import type { ConnectParams, Driver, DriverConnection } from "../../driver.ts";
import { clientLoader, type NpmClient } from "../shared/lazy.ts";
import { ArrayTypes } from "./array_types.ts";
import { open } from "./open.ts";
import type { PostgresjsFactory } from "./types.ts";

export type {
  PostgresjsClientOptions,
  PostgresjsFactory,
  PostgresjsResult,
  PostgresjsSql,
} from "./types.ts";
// The driver interface that postgresjs() returns, so that this entry point documents it fully.
export type * from "../shared/contract.ts";

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
   * Fetch the array types (postgres.js's `fetch_types`): one catalog query,
   * the first query of the driver's first connection (it proves that session
   * up, in place of the empty query every other connection sends); later
   * connections reuse the result. Without it,
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
 * The connect parameters mean what {@linkcode ConnectParams} and
 * {@linkcode SslMode} say, but for `allow`, which tries TLS first (unlike
 * libpq). `NODE_TLS_REJECT_UNAUTHORIZED` does not weaken the verifying modes.
 * `undefined` parameters are sent as `NULL`.
 *
 * @param options Prepared statements, type fetching, and the `postgres` factory.
 * @returns A driver that opens one postgres.js instance (one session) per connection.
 * @throws {TypeError} When `options.postgres` is given but is not a function.
 *
 * @example postgres.js without the array-type fetch
 * ```ts ignore
 * import { createPool } from "@x/pgdbpool";
 * import { postgresjs } from "@x/pgdbpool/postgresjs";
 *
 * const pool = createPool({ db: "postgres://app@db1/app", driver: postgresjs({ fetchTypes: false }), groups: { web: { connection_count: 10 } } });
 * ```
 */
export function postgresjs(options: PostgresjsOptions = {}): Driver {
  const prepare = options.prepare ?? true;
  const types = options.fetchTypes ?? true ? new ArrayTypes() : undefined;
  const load = clientLoader(options.postgres, POSTGRES);
  return {
    name: "postgresjs",
    notifications: true,
    async connect(params: ConnectParams): Promise<DriverConnection> {
      return open(await load(), params, prepare && params.namedStatements !== false, types);
    },
  };
}

const POSTGRES: NpmClient<PostgresjsFactory> = {
  client: "postgres.js",
  pkg: "postgres",
  builder: "postgresjs",
  option: "postgres",
  expected: "postgres.js's default export (a function)",
  lacks: "has no default export",
  importIt: () => import("postgres"),
  inModule: (mod) => mod.default,
  isLibrary: (postgres): postgres is PostgresjsFactory => typeof postgres === "function",
};
