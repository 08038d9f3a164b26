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
import type { ConnectParams, Driver, DriverConnection } from "../../driver.ts";
import { clientLoader, type NpmClient } from "../shared/lazy.ts";
import { StatementNames } from "./statement_names.ts";
import { open } from "./open.ts";
import type { NodePostgresModule } from "./types.ts";

export type {
  NodePostgresClient,
  NodePostgresModule,
  NodePostgresNotification,
  NodePostgresResult,
  PgCancelConnection,
} from "./types.ts";
// The driver interface that nodePostgres() returns, so that this entry point documents it fully.
export type * from "../shared/contract.ts";

/**
 * Options of {@linkcode nodePostgres}.
 *
 * @example Your own `pg` module, without prepared statements (Deno)
 * ```ts ignore
 * import pg from "npm:pg@8";
 * import { nodePostgres } from "@x/pgdbpool/node-postgres";
 *
 * pg.types.setTypeParser(20, BigInt); // int8 as bigint
 * const driver = nodePostgres({ pg, prepare: false });
 * ```
 */
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
 * The connect parameters mean what {@linkcode ConnectParams} and
 * {@linkcode SslMode} say. `undefined` parameters are sent as `NULL` (as `pg` does).
 *
 * @param options The `pg` module, prepared statements, and their limit.
 * @returns A driver that opens one `pg.Client` (one session) per connection.
 * @throws {TypeError} When `options.pg` is given but has no `Client` class.
 *
 * @example node-postgres keeping at most 100 statements per session
 * ```ts ignore
 * import { createPool } from "@x/pgdbpool";
 * import { nodePostgres } from "@x/pgdbpool/node-postgres";
 *
 * const pool = createPool({ db: "postgres://app@db1/app", driver: nodePostgres({ maxPrepared: 100 }), groups: { web: { connection_count: 10 } } });
 * ```
 */
export function nodePostgres(options: NodePostgresOptions = {}): Driver {
  const names = options.prepare === false
    ? undefined
    : new StatementNames(options.maxPrepared ?? 1000);
  const load = clientLoader(options.pg, PG);
  return {
    name: "node-postgres",
    notifications: true,
    async connect(params: ConnectParams): Promise<DriverConnection> {
      return open(await load(), params, params.namedStatements === false ? undefined : names);
    },
  };
}

const PG: NpmClient<NodePostgresModule> = {
  client: "node-postgres",
  pkg: "pg",
  builder: "nodePostgres",
  option: "pg",
  expected: "the pg module (with a Client class)",
  lacks: "has no Client class",
  importIt: () => import("pg"),
  inModule: (mod) => mod.default ?? mod,
  isLibrary: (pg): pg is NodePostgresModule =>
    typeof (pg as { Client?: unknown } | null)?.Client === "function",
};
