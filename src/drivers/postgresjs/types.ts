/**
 * The postgres.js API as the postgres.js adapter sees it: structural types for
 * the `postgres()` factory, the options the adapter passes it, the `Sql`
 * instance and its results. Typed by what the adapter uses, so that any 3.x
 * version of postgres.js fits without this package importing it.
 *
 * Re-exported by the `@x/pgdbpool/postgresjs` entry point.
 *
 * @module
 */

/**
 * A postgres.js result: the rows, plus the metadata this adapter reads.
 *
 * @example Read the rows and the command tag
 * ```ts ignore
 * import type { PostgresjsResult, PostgresjsSql } from "@x/pgdbpool/postgresjs";
 *
 * declare const sql: PostgresjsSql;
 * const result: PostgresjsResult = await sql.unsafe("SELECT 1 AS n");
 * console.log(result[0].n, result.count, result.command); // 1 1 "SELECT"
 * ```
 */
export type PostgresjsResult = Record<string, unknown>[] & {
  /** Rows returned or affected; `null` for tags without a count. */
  readonly count?: number | null;
  /** The command tag without counts (`"SELECT"`, `"CREATE TABLE"`); absent on a multi-statement result. */
  readonly command?: string | null;
};

/**
 * The postgres.js `Sql` instance, as far as this adapter uses it.
 *
 * @example Run a prepared query, then end the instance
 * ```ts ignore
 * import type { PostgresjsSql } from "@x/pgdbpool/postgresjs";
 *
 * declare const sql: PostgresjsSql;
 * const rows = await sql.unsafe("SELECT $1::int AS n", [1], { prepare: true });
 * await sql.end({ timeout: 0 });
 * ```
 */
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
  /** ParameterStatus values of the instance's (one) connection, updated in place by postgres.js. */
  readonly parameters: Record<string, string>;
  /** The instance's resolved options; the adapter shares array types through them. */
  readonly options: {
    parsers: Record<number, unknown>;
    serializers: Record<number, unknown>;
  };
}

/**
 * The options this adapter passes to `postgres()` (a subset of postgres.js's `Options`).
 *
 * @example The fields fixed by the adapter
 * ```ts ignore
 * import type { PostgresjsClientOptions } from "@x/pgdbpool/postgresjs";
 *
 * const fixed: Pick<PostgresjsClientOptions, "max" | "ssl" | "connect_timeout"> = {
 *   max: 1,
 *   ssl: false,
 *   connect_timeout: 0,
 * };
 * ```
 */
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
  /** Notices go to the pool's `onNotice`, else nowhere (postgres.js would print them). */
  onnotice: (notice: unknown) => void;
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
 * @example postgres.js's default export is a factory
 * ```ts ignore
 * import postgres from "npm:postgres@3";
 * import type { PostgresjsFactory } from "@x/pgdbpool/postgresjs";
 * const factory: PostgresjsFactory = postgres;
 * ```
 */
export type PostgresjsFactory = {
  postgres(options: PostgresjsClientOptions): PostgresjsSql;
}["postgres"];
