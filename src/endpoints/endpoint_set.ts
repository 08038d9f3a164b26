/**
 * The endpoint set: health and back-off per endpoint, shared by every group
 * of a pool, and connection with failover to the next endpoint.
 *
 * @module
 */
import { backoffDelay } from "../core/backoff.ts";
import type { Clock } from "../core/clock.ts";
import type { Driver, DriverConnection, DriverNotice } from "../driver.ts";
import { describeEndpoint, type EndpointConfig, passwordOf } from "../config/normalize.ts";
import { OfflineError } from "../errors.ts";

/** What `stats()` shows of one endpoint. */
export interface EndpointStats {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
  /** Open sessions to it, over all groups. */
  connections: number;
  /** `false` while it is backed off after a failed connect. */
  up: boolean;
  /** Connect failures in a row. */
  failures: number;
  /** The last connect error's message, if it is down. */
  lastError: string | undefined;
}

interface EndpointState {
  readonly config: EndpointConfig;
  readonly label: string;
  readonly settings: Readonly<Record<string, string>>;
  connections: number;
  failures: number;
  retryAt: number;
  lastError: string | undefined;
}

/** A session opened by {@linkcode EndpointSet.connect}, with where it went. */
export interface EndpointConnection {
  /** The session. */
  connection: DriverConnection;
  /** Index of its endpoint. */
  endpoint: number;
}

/** Options of an {@linkcode EndpointSet}. */
export interface EndpointSetOptions {
  /** Opens sessions. */
  driver: Driver;
  /** The clock. */
  clock: Clock;
  /** First back-off, in ms. */
  reconnectBaseMs: number;
  /** Longest back-off, in ms. */
  reconnectMaxMs: number;
  /** Receives every session's notices. */
  onNotice?: (notice: DriverNotice) => void;
}

/** The endpoints of a pool and their health. */
export class EndpointSet {
  readonly #states: EndpointState[];
  readonly #opts: EndpointSetOptions;

  /**
   * Builds the set; no I/O.
   *
   * @param endpoints The configured endpoints.
   * @param opts Driver, clock and back-off.
   */
  constructor(endpoints: readonly EndpointConfig[], opts: EndpointSetOptions) {
    this.#opts = opts;
    this.#states = endpoints.map((config) => ({
      config,
      label: describeEndpoint(config),
      settings: Object.freeze(sessionSettings(config)),
      connections: 0,
      failures: 0,
      retryAt: 0,
      lastError: undefined,
    }));
  }

  /** Number of endpoints. */
  get size(): number {
    return this.#states.length;
  }

  /**
   * The endpoint's config.
   *
   * @param index Endpoint index.
   * @returns Its config (no password).
   */
  config(index: number): EndpointConfig {
    return this.#states[index].config;
  }

  /**
   * The first endpoint at or after `from` (cyclically) that may be connected
   * to now: up, or backed off with its retry time passed (then it is probed).
   *
   * @param from Index to start from.
   * @returns An index, or `-1` when every endpoint is backed off.
   */
  available(from: number): number {
    const n = this.#states.length;
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n;
      if (this.#isAvailable(i)) return i;
    }
    return -1;
  }

  /**
   * Opens one session, on `preferred` if it can be reached, else on the next
   * endpoints in turn. Failed endpoints are backed off.
   *
   * @param preferred Index to try first (`-1`: the first available).
   * @returns The session and its endpoint.
   * @throws {OfflineError} When no endpoint could be reached.
   */
  async connect(preferred: number): Promise<EndpointConnection> {
    const n = this.#states.length;
    const start = preferred >= 0 ? preferred : 0;
    let lastError: unknown;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (!this.#isAvailable(i)) continue;
      const s = this.#states[i];
      try {
        const connection = await this.#opts.driver.connect({
          ...connectParams(s),
          onNotice: this.#opts.onNotice,
        });
        s.failures = 0;
        s.lastError = undefined;
        s.connections++;
        return { connection, endpoint: i };
      } catch (err) {
        lastError = err;
        s.failures++;
        s.lastError = redact(errorMessage(err), passwordOf(s.config));
        s.retryAt = this.#opts.clock.now() +
          backoffDelay(s.failures, this.#opts.reconnectBaseMs, this.#opts.reconnectMaxMs);
      }
    }
    throw new OfflineError(
      `Cannot connect: no endpoint can be reached: ${this.#describeDown()}`,
      lastError === undefined ? undefined : { cause: lastError },
    );
  }

  /**
   * Records that a session of `index` was closed.
   *
   * @param index Endpoint index.
   */
  disconnected(index: number): void {
    this.#states[index].connections--;
  }

  /**
   * Label of an endpoint, `host:port`.
   *
   * @param index Endpoint index.
   * @returns The label.
   */
  label(index: number): string {
    return this.#states[index].label;
  }

  /**
   * Per-endpoint stats.
   *
   * @returns A fresh snapshot.
   */
  stats(): EndpointStats[] {
    return this.#states.map((s) => ({
      host: s.config.host,
      port: s.config.port,
      connections: s.connections,
      up: s.failures === 0,
      failures: s.failures,
      lastError: s.lastError,
    }));
  }

  #isAvailable(i: number): boolean {
    const s = this.#states[i];
    return s.failures === 0 || s.retryAt <= this.#opts.clock.now();
  }

  #describeDown(): string {
    const now = this.#opts.clock.now();
    return this.#states.map((s) => {
      const wait = Math.max(0, Math.ceil(s.retryAt - now));
      return `${s.label} (${s.lastError ?? "down"}; next try in ${wait} ms)`;
    }).join(", ");
  }
}

function sessionSettings(e: EndpointConfig): Record<string, string> {
  return {
    application_name: e.applicationName,
    statement_timeout: String(e.queryTimeoutMs),
    temp_buffers: `${e.sessionTmpBufferMb}MB`,
  };
}

function connectParams(s: EndpointState) {
  const e = s.config;
  return {
    host: e.host,
    port: e.port,
    database: e.database,
    user: e.user,
    password: passwordOf(e),
    ssl: e.ssl,
    sslRootCert: e.sslRootCert,
    connectTimeoutMs: e.connectTimeoutMs,
    settings: s.settings,
  };
}

function errorMessage(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e?.message === "string" ? e.message : String(err);
  return typeof e?.code === "string" && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}

// Belt and braces: a driver message should never quote the password, but if one does, mask it.
function redact(message: string, password: string | undefined): string {
  return password ? message.split(password).join("****") : message;
}
