/**
 * The shapes of `startCluster()`: its options, the running cluster, its
 * servers and their sessions.
 *
 * @module
 */

/**
 * One server of a {@linkcode TestCluster}.
 *
 * @example Address the standby alone
 * ```ts
 * import { startCluster } from "@x/pgdbpool/testing";
 *
 * const cluster = await startCluster();
 * const standbyUrl = cluster.standbys[0].url; // postgres://postgres:…@127.0.0.1:<port>/postgres
 * await cluster.close();
 * ```
 */
export interface ClusterServer {
  /** `"primary"`, `"standby1"`, `"standby2"`, … (the role it started with). */
  readonly name: string;
  /** Always `"127.0.0.1"`. */
  readonly host: string;
  /** Its port; the same after `restart()`. */
  readonly port: number;
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
}

/**
 * Options of {@linkcode startCluster}.
 *
 * @example Two standbys and a known password
 * ```ts
 * import type { ClusterOptions } from "@x/pgdbpool/testing";
 *
 * const options: ClusterOptions = { standbys: 2, password: "secret" };
 * ```
 */
export interface ClusterOptions {
  /**
   * How many hot standbys stream from the primary (0-8).
   *
   * @default {1}
   */
  standbys?: number;
  /**
   * Password of the superuser `postgres` (scram-sha-256).
   *
   * @default {a random one}
   */
  password?: string;
  /**
   * Gives up the start: `startCluster()` rejects with the signal's reason at
   * once, and what was started is stopped and deleted.
   */
  signal?: AbortSignal;
}

/**
 * A server session as `pg_stat_activity` shows it: what `killBackends()` filters on.
 *
 * @example Kill only the sessions still authenticating
 * ```ts
 * import { type BackendInfo, startCluster } from "@x/pgdbpool/testing";
 *
 * const cluster = await startCluster({ standbys: 0 });
 * const authenticating = (b: BackendInfo) => b.state === "starting";
 * await cluster.killBackends(cluster.primary, authenticating);
 * await cluster.close();
 * ```
 */
export interface BackendInfo {
  /** Process id of the backend. */
  readonly pid: number;
  /** `application_name` (empty until the startup packet is read). */
  readonly applicationName: string;
  /** `state`: `"starting"` while authenticating (PostgreSQL 18), `"idle"`, `"active"`, … */
  readonly state: string | null;
  /** The user, once authenticated. */
  readonly user: string | null;
  /** The last query's text. */
  readonly query: string;
}

/**
 * A running cluster: {@linkcode startCluster}.
 *
 * @example Restart the primary and kill an app's sessions
 * ```ts
 * import { startCluster } from "@x/pgdbpool/testing";
 *
 * const cluster = await startCluster();
 * try {
 *   await cluster.restart(cluster.primary);
 *   await cluster.killBackends(cluster.primary, (b) => b.applicationName === "my-app");
 * } finally {
 *   await cluster.close();
 * }
 * ```
 */
export interface TestCluster {
  /** The server started as primary. */
  readonly primary: ClusterServer;
  /** The hot standbys, streaming from the primary. */
  readonly standbys: readonly ClusterServer[];
  /** Always `"postgres"` (a superuser). */
  readonly user: string;
  /** Its password. */
  readonly password: string;
  /** Always `"postgres"`. */
  readonly database: string;
  /** A multi-host URL naming every server, primary first: `postgres://…@h:p1,h:p2/postgres`. */
  url(): string;
  /** Promotes `standbys[i]` (`pg_promote()`); resolves once it accepts writes. */
  promote(i: number): Promise<void>;
  /** Fast shutdown of `server`; resolves once it is gone. */
  stop(server: ClusterServer): Promise<void>;
  /** Stops `server` if it runs, then starts it again on its port; resolves once it accepts connections. */
  restart(server: ClusterServer): Promise<void>;
  /**
   * Terminates the client sessions of `server` for which `filter` returns
   * true (all when omitted), sessions being authenticated included.
   * Resolves with how many were terminated.
   */
  killBackends(server: ClusterServer, filter?: (backend: BackendInfo) => boolean): Promise<number>;
  /** Stops every server and deletes the folder. Idempotent. */
  close(): Promise<void>;
}
