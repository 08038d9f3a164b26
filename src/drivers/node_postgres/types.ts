/**
 * The node-postgres API as the node-postgres adapter sees it: structural
 * types for the `pg` module, its `Client`, its query results, and the parts of
 * its errors and client state the adapter reads. Typed by what the adapter
 * uses, so that `pg` fits without this package importing it.
 *
 * The result, client and module types are re-exported by the
 * `@x/pgdbpool/node-postgres` entry point; the error and state shapes are
 * internal to the adapter.
 *
 * @module
 */

/**
 * A `pg` query result, as far as this adapter reads it.
 *
 * @example Read the rows, the count and the command
 * ```ts ignore
 * import type { NodePostgresClient, NodePostgresResult } from "@x/pgdbpool/node-postgres";
 *
 * declare const client: NodePostgresClient;
 * const result = await client.query({ text: "SELECT 1 AS n" }) as NodePostgresResult;
 * console.log(result.rows[0].n, result.rowCount, result.command); // 1 1 "SELECT"
 * ```
 */
export interface NodePostgresResult {
  /** Rows as objects keyed by column name. */
  rows: Record<string, unknown>[];
  /** Rows returned or affected; `null` for commands without a count. */
  rowCount: number | null;
  /** The command tag's verb (`"SELECT"`, `"BEGIN"`…); `null` for an empty query. */
  command: string | null;
}

/** What pg's `notification` event carries. */
export interface NodePostgresNotification {
  /** The channel. */
  readonly channel: string;
  /** The payload. */
  readonly payload?: string;
  /** The sending backend's pid. */
  readonly processId: number;
}

/**
 * The part of `pg.Client` this adapter uses.
 *
 * @example Connect, run a named statement, end
 * ```ts ignore
 * import type { NodePostgresClient } from "@x/pgdbpool/node-postgres";
 *
 * declare const client: NodePostgresClient;
 * client.on("error", () => {});
 * await client.connect();
 * await client.query({ text: "SELECT $1::int AS n", values: [1], name: "s1" });
 * await client.end();
 * ```
 */
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
  /** The backend's process id (BackendKeyData), once connected. */
  readonly processID?: number | null;
  /** The backend's secret key (BackendKeyData), once connected. */
  readonly secretKey?: number | null;
  /** Lets the socket keep the process alive again (pg ≥ 8.8). */
  ref?(): void;
  /** Lets the process exit while the socket stays open (pg ≥ 8.8). */
  unref?(): void;
  /**
   * Subscribes to `end` (the session is over) and `error` (the socket failed).
   *
   * @param event The event.
   * @param listener The listener.
   */
  on(event: "end" | "error" | "notice", listener: (arg?: unknown) => void): unknown;
  /** A NotificationResponse: `{ channel, payload, processId }`. */
  on(event: "notification", listener: (msg: NodePostgresNotification) => void): unknown;
  /**
   * Sets this client's parser for a type (over the `pg` module's).
   *
   * @param oid The type's oid.
   * @param format `"text"`.
   * @param parse The parser.
   */
  setTypeParser?(oid: number, format: "text", parse: (text: string) => unknown): void;
  /**
   * This client's parser for a type.
   *
   * @param oid The type's oid.
   * @param format `"text"`.
   * @returns The parser.
   */
  getTypeParser?(oid: number, format: "text"): (text: string) => unknown;
  /**
   * The transaction status of the last ReadyForQuery (`"I"` idle, `"T"` in a
   * transaction, `"E"` failed transaction); pg 8.12 and later.
   *
   * @returns The status, or `null` before the first.
   */
  getTransactionStatus?(): string | null;
  /** The protocol connection: its events (`parameterStatus`, `sslconnect`) and its socket. */
  readonly connection?: {
    on(event: "parameterStatus" | "sslconnect", listener: (msg: unknown) => void): unknown;
    readonly stream?: unknown;
  };
}

/**
 * The `pg` module (its default export), as far as this adapter uses it.
 *
 * @example Build a client from the module
 * ```ts ignore
 * import pg from "npm:pg@8";
 * import type { NodePostgresModule } from "@x/pgdbpool/node-postgres";
 *
 * const module: NodePostgresModule = pg;
 * const client = new module.Client({ host: "localhost", database: "app" });
 * ```
 */
export interface NodePostgresModule {
  /** `pg.Client`. */
  Client: new (config: Record<string, unknown>) => NodePostgresClient;
  /** `pg.Connection`: the protocol connection, used alone to send a CancelRequest. */
  Connection?: new (config: { ssl: Record<string, unknown> | false }) => PgCancelConnection;
}

/**
 * The part of pg's `Connection` (`pg.Connection`) the adapter uses to send a CancelRequest.
 *
 * @example Send a CancelRequest for a backend
 * ```ts ignore
 * import pg from "npm:pg@8";
 * import type { PgCancelConnection } from "@x/pgdbpool/node-postgres";
 *
 * const con: PgCancelConnection = new pg.Connection({ ssl: false });
 * con.on("connect", () => con.cancel(12345, 67890));
 * con.connect(5432, "localhost");
 * ```
 */
export interface PgCancelConnection {
  /** Connects to `host:port`, or to a Unix socket path given alone. */
  connect(port: number | string, host?: string): void;
  /** Writes the SSLRequest (pg waits for the answer once `ssl` was given). */
  requestSsl(): void;
  /** Writes the CancelRequest. */
  cancel(processID: number, secretKey: number): void;
  /** `connect`, `sslconnect` (TLS is up), `error`, `end` (the socket closed). */
  on(event: string, listener: () => void): unknown;
  /** The socket (a TLS socket once TLS is up). */
  readonly stream: { unref?(): void; destroy(): void };
}

/**
 * Internal state of pg's `Client`, read to tell a dead session from a
 * refused query (pg marks the client before it rejects the queries of a dead
 * socket).
 *
 * Internal to the node-postgres adapter.
 */
export interface PgClientState {
  /** `end()` has been called. */
  _ending?: boolean;
  /** The session has ended. */
  _ended?: boolean;
  /** `false` once the client can no longer send queries. */
  _queryable?: boolean;
  /** The protocol connection: its socket and pg's cache of parsed statements (name → text). */
  connection?: {
    stream?: { destroyed?: boolean; destroy?(): void };
    parsedStatements?: Record<string, string>;
    submittedNamedStatements?: Record<string, string>;
  };
}
