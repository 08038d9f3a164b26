/**
 * What the pool knows of each endpoint's role: the role last learned, an
 * epoch bumped whenever it changes (a session opened in an older epoch is not
 * trusted with a role), when it was last checked (role checks are
 * rate-limited), and the `{ id, host, port, role }` that `db.endpoint` shows.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointConfig } from "../config/normalize.ts";
import { type EndpointRole, roleName, type ServerRole } from "./roles.ts";

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

interface Entry {
  readonly config: EndpointConfig;
  role: ServerRole | undefined;
  epoch: number;
  checkedAt: number;
  info: EndpointInfo;
}

interface Stamp {
  epoch: number;
  /** `in_hot_standby` and `default_transaction_read_only` as last reported. */
  standby: string | undefined;
  readOnly: string | undefined;
}

// A role that does not match is checked again at most this often per endpoint.
const RECHECK_MS = 250;

/**
 * The roles of a pool's endpoints.
 */
export class RoleBook {
  readonly #entries: Entry[];
  readonly #clock: Clock;
  // Per session: the epoch it was opened (or last confirmed) in, and the role
  // parameters it reported then.
  readonly #stamps = new WeakMap<DriverConnection, Stamp>();

  /**
   * Builds the book: every role unknown.
   *
   * @param endpoints The configured endpoints.
   * @param clock The clock for the rate limit.
   */
  constructor(endpoints: readonly EndpointConfig[], clock: Clock) {
    this.#clock = clock;
    this.#entries = [];
    for (const config of endpoints) this.add(config);
  }

  /**
   * Adds an endpoint (`pool.setEndpoints()`), its role unknown.
   *
   * @param config The endpoint.
   */
  add(config: EndpointConfig): void {
    this.#entries.push({
      config,
      role: undefined,
      epoch: 0,
      checkedAt: -Infinity,
      info: infoOf(config, undefined),
    });
  }

  /**
   * The role last learned for `index`.
   *
   * @param index Endpoint index.
   * @returns The role, or `undefined` when unknown.
   */
  roleOf(index: number): ServerRole | undefined {
    return this.#entries[index].role;
  }

  /**
   * `db.endpoint` for sessions of `index`.
   *
   * @param index Endpoint index.
   * @returns A frozen object, replaced when the role changes.
   */
  info(index: number): EndpointInfo {
    return this.#entries[index].info;
  }

  /**
   * Marks a fresh session as opened in the current epoch.
   *
   * @param index Its endpoint.
   * @param connection The session.
   */
  stamp(index: number, connection: DriverConnection): void {
    const p = connection.parameters;
    this.#stamps.set(connection, {
      epoch: this.#entries[index].epoch,
      standby: p?.in_hot_standby,
      readOnly: p?.default_transaction_read_only,
    });
  }

  /**
   * The endpoint's role epoch: it moves whenever the role seen changes.
   *
   * @param index Endpoint index.
   * @returns The epoch.
   */
  epoch(index: number): number {
    return this.#entries[index].epoch;
  }

  /**
   * Whether a session carries its endpoint's current role.
   *
   * @param index Its endpoint.
   * @param connection The session.
   * @returns `false` when the role changed since the session opened.
   */
  current(index: number, connection: DriverConnection): boolean {
    return this.#stamps.get(connection)?.epoch === this.#entries[index].epoch;
  }

  /**
   * Reads a session's reported role (PostgreSQL 14+ reports a change with
   * the reply to the next query). Only a change since the session last
   * reported counts: an idle session's stale report must not undo what a
   * fresher session learned. The reporting session stays current.
   *
   * @param index Its endpoint.
   * @param connection The session.
   */
  observe(index: number, connection: DriverConnection): void {
    const p = connection.parameters;
    const standby = p?.in_hot_standby;
    if (standby === undefined) return;
    const stamp = this.#stamps.get(connection);
    const readOnly = p.default_transaction_read_only;
    // Compared field by field: this runs on every lease of a group with a target.
    if (stamp === undefined || (stamp.standby === standby && stamp.readOnly === readOnly)) return;
    this.note(index, { inRecovery: standby === "on", readOnly: readOnly === "on" });
    stamp.standby = standby;
    stamp.readOnly = readOnly;
    stamp.epoch = this.#entries[index].epoch;
  }

  /**
   * Records a role seen by a session (its parameters or the role query), or
   * forgets it (`undefined`: a write was refused with 25006).
   *
   * @param index Endpoint index.
   * @param role The role, or `undefined`.
   */
  note(index: number, role: ServerRole | undefined): void {
    const e = this.#entries[index];
    const old = e.role;
    e.checkedAt = this.#clock.now();
    if (
      old === role ||
      (old && role && old.inRecovery === role.inRecovery && old.readOnly === role.readOnly)
    ) {
      return;
    }
    e.role = role;
    e.epoch++;
    e.info = infoOf(e.config, role);
    // Unknown again: the next attempt learns it at once.
    if (role === undefined) e.checkedAt = -Infinity;
  }

  /**
   * Whether a role that did not match may be checked again now; if so, the
   * check is booked (the rate limit).
   *
   * @param index Endpoint index.
   * @param force Book the check even within the window (a caller that would
   *   otherwise wait on a probe for `connect_timeout`).
   * @returns `true` at most once per {@linkcode RECHECK_MS} per endpoint, unless made due or forced.
   */
  recheckDue(index: number, force = false): boolean {
    const e = this.#entries[index];
    const now = this.#clock.now();
    if (!force && now - e.checkedAt < RECHECK_MS) return false;
    e.checkedAt = now;
    return true;
  }

  /**
   * Time until a role check of `index` is due.
   *
   * @param index Endpoint index.
   * @returns Milliseconds (0: due now).
   */
  recheckInMs(index: number): number {
    return Math.max(0, this.#entries[index].checkedAt + RECHECK_MS - this.#clock.now());
  }

  /**
   * After an endpoint fails the others may have changed role (a failover):
   * their roles may be checked again at once.
   *
   * @param failed The endpoint that failed.
   */
  othersDue(failed: number): void {
    this.#entries.forEach((e, i) => {
      if (i !== failed) e.checkedAt = -Infinity;
    });
  }
}

function infoOf(config: EndpointConfig, role: ServerRole | undefined): EndpointInfo {
  return Object.freeze({
    id: config.id,
    host: config.host,
    port: config.port,
    role: roleName(role),
  });
}
