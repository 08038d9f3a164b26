/**
 * What the endpoint set tells of its endpoints: `stats()` (each one's role,
 * health, session count and timings over all groups) and the part of an
 * `OfflineError`'s message that describes one.
 *
 * @module
 */
import type { EndpointInfo, RoleBook } from "./role_book.ts";
import type { EndpointState } from "./open_session.ts";
import type { Timings, TimingSet } from "../observe/timing.ts";

/** What `stats()` shows of one endpoint: its health, sessions, and timings over all groups. */
export interface EndpointStats extends EndpointInfo, Timings {
  /** Open sessions to it, over all groups. */
  connections: number;
  /** `false` while it is backed off after failed connects. */
  up: boolean;
  /** Failed attempt windows in a row (concurrent failures count once). */
  failures: number;
  /** The last connect error's message, if it is down. */
  lastError: string | undefined;
}

/**
 * A snapshot of every endpoint, in the set's order.
 *
 * @param states The endpoints' states.
 * @param roles What is known of their roles.
 * @param timings Their timings, by index.
 * @returns Fresh objects, one per endpoint shown.
 */
export function endpointStats(
  states: readonly EndpointState[],
  roles: RoleBook,
  timings: readonly TimingSet[],
): EndpointStats[] {
  return states.map((s, i) => ({
    ...roles.info(i),
    connections: s.connections,
    up: s.health.up,
    failures: s.health.failures,
    lastError: s.health.lastError,
    ...timings[i].snapshot(),
    // An endpoint removed by pool.setEndpoints() shows until its last session closed.
  })).filter((_, i) => !states[i].removed || states[i].connections > 0);
}

/**
 * The part of an `OfflineError`'s message that describes one endpoint.
 *
 * @param s The endpoint's state.
 * @param now The clock's time, for the wait until its next try.
 * @param why What went wrong with it, when it is up.
 * @returns `host:port (detail)`.
 */
export function describeState(s: EndpointState, now: number, why: string | undefined): string {
  const h = s.health;
  if (!h.up) {
    const wait = Math.max(0, Math.ceil(h.retryAt - now));
    return `${s.label} (${h.lastError ?? "down"}; next try in ${wait} ms)`;
  }
  return `${s.label} (${why ?? "up"})`;
}
