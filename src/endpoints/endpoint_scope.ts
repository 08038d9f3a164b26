/**
 * One group's view of the endpoint set: the endpoints it is bound to, matched
 * against its `target_session_attrs`. The group asks it for the next endpoint
 * index it may use, to connect, and whether a session still fits.
 *
 * @module
 */
import type { DriverConnection } from "../driver.ts";
import type { TargetSessionAttrs } from "../config/normalize.ts";
import type { EndpointSet } from "./endpoint_set.ts";
import { ROLE_QUERY, roleFromParameters, roleFromRow, serves, signalsDemotion } from "./roles.ts";
import { findSession, type SearchScope } from "./find_session.ts";
import type { ConnectExtra } from "./open_session.ts";
import { type Candidate, planMoves, Rebalancer } from "./rebalance.ts";

/** A session opened by {@linkcode EndpointScope.connect}, with where it went. */
export interface EndpointConnection {
  /** The session. */
  connection: DriverConnection;
  /** Index of its endpoint. */
  endpoint: number;
}

/** The endpoints one group may use. */
export class EndpointScope {
  /** The group's target. */
  readonly target: TargetSessionAttrs;
  /** Whether sessions must be checked against a role (`target` is not `"any"`). */
  readonly checksRole: boolean;
  readonly #set: EndpointSet;
  #indexes: readonly number[];
  readonly #counts: number[];
  readonly #rebalancer: Rebalancer;
  #search: SearchScope;
  #cursor = 0;
  #opening = 0;

  /**
   * Builds the view; use `EndpointSet.scope`.
   *
   * @param set The pool's endpoints.
   * @param group The group's name, for messages.
   * @param indexes The endpoints it may use, in order (never empty).
   * @param target Its `target_session_attrs`.
   * @param extra Passed to every connect (the listen session's notifications).
   */
  constructor(
    set: EndpointSet,
    group: string | undefined,
    indexes: readonly number[],
    target: TargetSessionAttrs,
    extra?: ConnectExtra,
  ) {
    this.#set = set;
    this.#indexes = indexes;
    this.target = target;
    this.checksRole = target !== "any";
    this.#counts = new Array(set.size).fill(0);
    this.#search = { set, group, indexes, target, checksRole: this.checksRole, extra };
    // Sessions being opened now will most likely fill a gap: they count as moved.
    this.#rebalancer = new Rebalancer(() => {
      const plan = planMoves(this.#counts, this.#indexes, this.#candidates());
      return { moves: Math.max(0, plan.moves - this.#opening), share: plan.share };
    });
  }

  /**
   * The next endpoint, in rotation, that this group may open a session on now:
   * not backed off, and of a matching (or not yet known) role.
   *
   * @returns An endpoint index, or `-1` when none fits now (a connect then
   *   re-checks roles and reports why).
   */
  next(): number {
    const list = this.#indexes;
    const n = list.length;
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const at = (this.#cursor + k) % n;
      const i = list[at];
      if (!this.#set.usable(i)) continue;
      const role = this.checksRole ? this.#set.roles.roleOf(i) : undefined;
      if (role === undefined || serves(role, this.target, false)) {
        this.#cursor = at + 1 === n ? 0 : at + 1;
        return i;
      }
      if (fallback < 0 && serves(role, this.target, true)) fallback = i;
    }
    return fallback;
  }

  /**
   * Whether a session of `index` may be handed to this group: its server's
   * role (as last seen) still matches the target. Always `true` for `"any"`.
   *
   * @param index The session's endpoint.
   * @param connection The session.
   * @returns `false` when the session must be retired.
   */
  fits(index: number, connection: DriverConnection): boolean {
    if (!this.checksRole) return true;
    const set = this.#set;
    set.roles.observe(index, connection);
    const role = set.roles.roleOf(index);
    return role !== undefined && set.roles.current(index, connection) &&
      serves(role, this.target, this.#fallbackAllowed());
  }

  /**
   * The ping before use of a session of `index`: `SELECT 1`; for a group with
   * a target, on a session whose driver does not pass the server's reports on
   * (`in_hot_standby`, as Bun.SQL), the role query instead, whose answer is
   * recorded, so that the ping sees a promotion either way.
   *
   * @param index The session's endpoint.
   * @param connection The session.
   * @returns Settles when the server answered.
   */
  ping(index: number, connection: DriverConnection): Promise<unknown> {
    if (!this.checksRole || roleFromParameters(connection.parameters) !== undefined) {
      return connection.query("SELECT 1");
    }
    const roles = this.#set.roles;
    const asked = roles.epoch(index);
    return connection.query(ROLE_QUERY).then(({ rows }) => {
      const role = roleFromRow(rows[0]);
      // An answer that does not say: the ping failed (the session is not trusted).
      if (role === undefined) throw new Error("the role query's answer does not tell the role");
      // Another answer changed the role meanwhile: this one may be older. Left unstamped, the
      // session is no longer current and leaves (when unsure, the session is not trusted).
      if (roles.epoch(index) !== asked) return;
      roles.note(index, role);
      roles.stamp(index, connection);
    });
  }

  /**
   * Opens a session for this group: `preferred` first, then the others in
   * rotation; endpoints whose role does not match are skipped, and checked
   * again (rate-limited) when no endpoint matches.
   *
   * @param preferred Index to try first (`-1`: any).
   * @returns The session and its endpoint.
   * @throws {OfflineError} No endpoint could be reached, or none has the role
   *   the group asks for; the message names the group, its target and each endpoint.
   * @throws {ConnectionError} The server refused the login (`code` holds the
   *   SQLSTATE), or every reachable server cut the handshake.
   */
  async connect(preferred: number): Promise<EndpointConnection> {
    this.#opening++;
    try {
      for (let search = this.#search;; search = this.#search) {
        try {
          const { connection, endpoint } = await findSession(search, preferred);
          this.#counts[endpoint]++;
          return { connection, endpoint };
        } catch (err) {
          // `pool.setEndpoints()` during the search: the endpoints of now get their try.
          if (search === this.#search) throw err;
        }
      }
    } finally {
      this.#opening--;
    }
  }

  /**
   * After `pool.setEndpoints()`: the endpoints this group may use now.
   *
   * @param indexes Their indexes, in order (never empty).
   */
  rebind(indexes: readonly number[]): void {
    this.#indexes = indexes;
    this.#search = { ...this.#search, indexes };
    while (this.#counts.length < this.#set.size) this.#counts.push(0);
  }

  /**
   * Records that a session of this group on `index` was closed.
   *
   * @param index Endpoint index.
   */
  disconnected(index: number): void {
    this.#counts[index]--;
    this.#set.disconnected(index);
  }

  /**
   * A statement failed with SQLSTATE `code` on a session of `index`: for 25006
   * in a group that needs a writable server, the endpoint's role is learned again.
   *
   * @param index Endpoint index.
   * @param code The SQLSTATE.
   */
  statementFailed(index: number, code: string | undefined): void {
    if (signalsDemotion(this.target, code)) this.#set.roles.note(index, undefined);
  }

  /**
   * Whether a session of `index` that is being released should be retired
   * instead, so that an endpoint back after an outage gets its share of the
   * group's sessions (see `rebalance.ts`). Costs a counter per release.
   *
   * @param index The session's endpoint.
   * @returns `true`: destroy the session (its slot reopens where the rotation sends it).
   */
  rebalances(index: number): boolean {
    return this.#rebalancer.retires(this.#counts[index]);
  }

  // Endpoints that may take sessions now: usable, and of a matching (or unknown) role.
  #candidates(): Candidate[] {
    const candidates: Candidate[] = [];
    for (const i of this.#indexes) {
      const role = this.checksRole ? this.#set.roles.roleOf(i) : undefined;
      if (!this.#set.usable(i) || (role && !serves(role, this.target, false))) continue;
      candidates.push({ index: i, up: this.#set.up(i) });
    }
    return candidates;
  }

  // prefer-standby: a primary's session serves only while no endpoint that is
  // (or may be) a standby can be tried.
  #fallbackAllowed(): boolean {
    if (this.target !== "prefer-standby") return false;
    for (const i of this.#indexes) {
      const role = this.#set.roles.roleOf(i);
      if ((role === undefined || role.inRecovery) && this.#set.usable(i)) return false;
    }
    return true;
  }
}
