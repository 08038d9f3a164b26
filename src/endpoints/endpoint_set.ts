/**
 * The endpoint set: the pool's endpoints, shared by every group, each with its
 * health (back-off), its learned role and its session count. Groups reach it
 * through an {@linkcode EndpointScope} ({@linkcode EndpointSet.scope}): the
 * endpoints they are bound to, filtered by their `target_session_attrs`.
 *
 * @module
 */
import { redactCredentials } from "../redact.ts";
import type { Clock } from "../core/clock.ts";
import type { Driver, DriverConnection, DriverNotice } from "../driver.ts";
import {
  describeEndpoint,
  type EndpointConfig,
  passwordOf,
  type TargetSessionAttrs,
} from "../config/normalize.ts";
import { classifyConnectFailure, type ConnectFailure, Health } from "./health.ts";
import { type EndpointRole, learnRole, roleName, type ServerRole } from "./roles.ts";
import { type EndpointConnection, EndpointScope } from "./endpoint_scope.ts";

export type { EndpointConnection } from "./endpoint_scope.ts";
export { EndpointScope } from "./endpoint_scope.ts";

/** Where a session is connected: `db.endpoint`. */
export interface EndpointInfo {
  /** The endpoint's id (`"host:port"` unless configured). */
  readonly id: string;
  /** Host name or address. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** The role last learned: `"primary"`, `"standby"` or `"unknown"`. */
  readonly role: EndpointRole;
}

/** What `stats()` shows of one endpoint. */
export interface EndpointStats extends EndpointInfo {
  /** Open sessions to it, over all groups. */
  connections: number;
  /** `false` while it is backed off after failed connects. */
  up: boolean;
  /** Failed attempt windows in a row (concurrent failures count once). */
  failures: number;
  /** The last connect error's message, if it is down. */
  lastError: string | undefined;
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

/** One attempt's outcome: a session, or why there is none. */
export type Attempt =
  | { readonly connection: DriverConnection; readonly error?: undefined }
  | { readonly connection?: undefined; readonly error: unknown; readonly kind: ConnectFailure };

interface EndpointState {
  readonly config: EndpointConfig;
  readonly label: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly health: Health;
  connections: number;
  role: ServerRole | undefined;
  /** Bumped whenever the role changes: sessions of an older epoch are not trusted with a role. */
  roleEpoch: number;
  roleCheckedAt: number;
  info: EndpointInfo;
}

// A role that does not match is checked again at most this often per endpoint.
const ROLE_RECHECK_MS = 250;

/** The endpoints of a pool, their health and roles. */
export class EndpointSet {
  readonly #states: EndpointState[];
  readonly #opts: EndpointSetOptions;
  // Per session: the role epoch it was opened (or last confirmed) in, and the
  // role parameters it reported then.
  readonly #stamps = new WeakMap<DriverConnection, Stamp>();
  #all: EndpointScope | undefined;

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
      health: new Health(),
      connections: 0,
      role: undefined,
      roleEpoch: 0,
      roleCheckedAt: -Infinity,
      info: infoOf(config, undefined),
    }));
  }

  /** Number of endpoints. */
  get size(): number {
    return this.#states.length;
  }

  /**
   * The endpoints a group may use, seen through its target.
   *
   * @param group The group's name (for messages).
   * @param binding The ids it is bound to (`undefined`: all) and its `target_session_attrs`.
   * @returns The group's view of the set.
   */
  scope(
    group: string | undefined,
    binding: {
      readonly endpoints?: readonly string[] | undefined;
      readonly targetSessionAttrs?: TargetSessionAttrs;
    },
  ): EndpointScope {
    const ids = binding.endpoints;
    const indexes = this.#states.map((_, i) => i).filter((i) =>
      ids === undefined || ids.includes(this.#states[i].config.id)
    );
    return new EndpointScope(this, group, indexes, binding.targetSessionAttrs ?? "any");
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
   * Where a session of `index` is connected: id, host, port, role.
   *
   * @param index Endpoint index.
   * @returns A frozen object, replaced when the role changes.
   */
  info(index: number): EndpointInfo {
    return this.#states[index].info;
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
   * The first endpoint at or after `from` (cyclically) that may be connected
   * to now, for groups that take any server.
   *
   * @param from Index to start from.
   * @returns An index, or `-1` when every endpoint is backed off.
   */
  available(from: number): number {
    const n = this.#states.length;
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n;
      if (this.usable(i)) return i;
    }
    return -1;
  }

  /**
   * Opens one session on any server, `preferred` first.
   *
   * @param preferred Index to try first (`-1`: the first available).
   * @returns The session and its endpoint.
   * @throws {OfflineError} When no endpoint could be reached.
   * @throws {ConnectionError} When the server refused the login, or cut every handshake.
   */
  connect(preferred: number): Promise<EndpointConnection> {
    this.#all ??= this.scope(undefined, {});
    return this.#all.connect(preferred);
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
   * Per-endpoint stats.
   *
   * @returns A fresh snapshot.
   */
  stats(): EndpointStats[] {
    return this.#states.map((s) => ({
      ...s.info,
      connections: s.connections,
      up: s.health.up,
      failures: s.health.failures,
      lastError: s.health.lastError,
    }));
  }

  /** @internal Whether an attempt may go out to `index` now (not backed off). */
  usable(index: number): boolean {
    const h = this.#states[index].health;
    return h.failures === 0 || h.available(this.#opts.clock.now());
  }

  /** @internal The role learned for `index`, if any. */
  roleOf(index: number): ServerRole | undefined {
    return this.#states[index].role;
  }

  /** @internal Whether a session still carries its endpoint's current role. */
  current(index: number, connection: DriverConnection): boolean {
    return this.#stamps.get(connection)?.epoch === this.#states[index].roleEpoch;
  }

  /**
   * @internal Whether a role that did not match may be checked again now; if
   * so, the check is booked (rate limit).
   */
  recheckDue(index: number): boolean {
    const s = this.#states[index];
    const now = this.#opts.clock.now();
    if (now - s.roleCheckedAt < ROLE_RECHECK_MS) return false;
    s.roleCheckedAt = now;
    return true;
  }

  /**
   * @internal Reads a session's reported role (PostgreSQL 14+ reports a change
   * with the reply to the next query). Only a change since the session last
   * reported counts: an idle session's stale report must not undo what a
   * fresher session learned. The reporting session stays current.
   */
  observe(index: number, connection: DriverConnection): void {
    const p = connection.parameters;
    const standby = p?.in_hot_standby;
    if (standby === undefined) return;
    const stamp = this.#stamps.get(connection);
    const reported = reportedOf(connection);
    if (stamp === undefined || stamp.reported === reported) return;
    this.noteRole(index, {
      inRecovery: standby === "on",
      readOnly: p.default_transaction_read_only === "on",
    });
    stamp.reported = reported;
    stamp.epoch = this.#states[index].roleEpoch;
  }

  /** @internal Records a role seen by a session (parameters, a query, or 25006). */
  noteRole(index: number, role: ServerRole | undefined): void {
    const s = this.#states[index];
    const old = s.role;
    s.roleCheckedAt = this.#opts.clock.now();
    if (
      old === role ||
      (old && role && old.inRecovery === role.inRecovery && old.readOnly === role.readOnly)
    ) {
      return;
    }
    s.role = role;
    s.roleEpoch++;
    s.info = infoOf(s.config, role);
    // Unknown again (a write refused, 25006): the next attempt learns it at once.
    if (role === undefined) s.roleCheckedAt = -Infinity;
  }

  /** @internal The message part describing `index`, for `OfflineError`. */
  describe(index: number, why: string | undefined): string {
    const s = this.#states[index];
    const h = s.health;
    if (!h.up) {
      const wait = Math.max(0, Math.ceil(h.retryAt - this.#opts.clock.now()));
      return `${s.label} (${h.lastError ?? "down"}; next try in ${wait} ms)`;
    }
    return `${s.label} (${why ?? "up"})`;
  }

  /**
   * @internal Opens one session on `index`, counting the outcome in its health
   * and learning its role (from its parameters, else with a query when `learn`).
   */
  async attempt(index: number, learn: boolean): Promise<Attempt> {
    const s = this.#states[index];
    const clock = this.#opts.clock;
    const ticket = s.health.begin(clock.now());
    let connection: DriverConnection;
    try {
      connection = await this.#opts.driver.connect({
        ...connectParams(s),
        onNotice: this.#opts.onNotice,
      });
    } catch (error) {
      const kind = classifyConnectFailure(error);
      const message = redactCredentials(errorMessage(error));
      const backoff = { baseMs: this.#opts.reconnectBaseMs, maxMs: this.#opts.reconnectMaxMs };
      if (s.health.failed(ticket, kind, clock.now(), backoff, message)) this.#othersStale(index);
      return { error, kind };
    }
    s.health.succeeded(ticket);
    s.connections++;
    if (learn || connection.parameters?.in_hot_standby !== undefined) {
      try {
        this.noteRole(index, await learnRole(connection));
      } catch (error) {
        // The session died before its role was known: a cut handshake.
        this.close(index, connection);
        return { error, kind: "handshake" };
      }
    }
    this.#stamps.set(connection, { epoch: s.roleEpoch, reported: reportedOf(connection) });
    return { connection };
  }

  /** @internal Closes a session the pool will not use. */
  close(index: number, connection: DriverConnection): void {
    this.#states[index].connections--;
    connection.close().catch(() => {});
  }

  // After an endpoint fails, the others may have changed role (a failover):
  // their roles may be checked again at once.
  #othersStale(failed: number): void {
    this.#states.forEach((s, i) => {
      if (i !== failed) s.roleCheckedAt = -Infinity;
    });
  }
}

interface Stamp {
  epoch: number;
  reported: string | undefined;
}

// The role parameters a session reports, as one comparable value.
function reportedOf(connection: DriverConnection): string | undefined {
  const p = connection.parameters;
  const standby = p?.in_hot_standby;
  return standby === undefined ? undefined : `${standby}/${p.default_transaction_read_only}`;
}

function infoOf(config: EndpointConfig, role: ServerRole | undefined): EndpointInfo {
  return Object.freeze({
    id: config.id,
    host: config.host,
    port: config.port,
    role: roleName(role),
  });
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
