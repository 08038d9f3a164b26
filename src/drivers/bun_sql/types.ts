/**
 * Bun's built-in PostgreSQL client (`Bun.SQL`) as the Bun.SQL adapter sees
 * it: structural types for the `Bun` global, the options the adapter passes
 * to `new Bun.SQL()`, the instance and its results. Typed by what the adapter
 * uses, so the package needs no Bun type definitions and builds anywhere.
 *
 * Internal to the Bun.SQL adapter; not part of the public surface.
 *
 * @module
 */
import type { SslMode } from "../../driver.ts";

/**
 * A Bun.SQL result: the rows, plus the metadata this adapter reads.
 */
export type BunSqlResult = Record<string, unknown>[] & {
  /** Rows returned, or rows written when the statement returns none. */
  readonly count?: number | null;
  /** The command tag without counts; absent on a multi-statement result. */
  readonly command?: string | null;
};

/**
 * A `Bun.SQL` instance, as far as this adapter uses it.
 */
export interface BunSqlClient {
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

/**
 * The options this adapter passes to `new Bun.SQL()` (a subset of Bun's).
 */
export interface BunSqlClientOptions {
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

/**
 * The `Bun` global, as far as this adapter uses it.
 */
export interface BunGlobal {
  /** The `Bun.SQL` class. */
  SQL: new (options: BunSqlClientOptions) => BunSqlClient;
}
