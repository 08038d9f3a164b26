/**
 * The search a group's connect runs over its endpoints. Endpoints that are up
 * are tried one after the other, `preferred` first, then the others in
 * rotation, skipping those whose known role does not match; when none
 * matches, those are connected to again (rate-limited) to learn whether their
 * role changed. A backed-off endpoint due for a probe is tried beside them,
 * never ahead of them: a probe of a server that accepts and never answers
 * costs `connect_timeout`, and must not hold a caller another endpoint can
 * serve (after a failover, the promoted server must not wait behind the old
 * primary). The first session that matches wins; the others are closed.
 * `prefer-standby` keeps a primary's session as a fallback while it looks
 * for a standby, and takes it rather than wait for a probe.
 *
 * @module
 */
import type { Attempt } from "./open_session.ts";
import { serves } from "./roles.ts";
import { AttemptRace } from "./attempt_race.ts";
import { PoolClosedError } from "../errors.ts";
import { type Found, SearchFindings, type SearchScope } from "./search_findings.ts";

export type { Found, SearchScope } from "./search_findings.ts";

// A cut handshake (the server is up) is tried once more on the same endpoint.
const HANDSHAKE_TRIES = 2;

// How long a probe goes out alone before endpoints that are up are tried
// beside it: long enough for a server back after an outage to answer (so no
// session opens beyond the group's count), short against `connect_timeout`.
const PROBE_HEAD_START_MS = 100;

/**
 * Opens a session for a group (see the module doc).
 *
 * @param scope The group's endpoints and target.
 * @param preferred The endpoint to try first (`-1`: any).
 * @returns The session and its endpoint index (not yet counted for the group).
 * @throws {OfflineError} No endpoint could be reached, or none has the role asked for.
 * @throws {ConnectionError} A server refused the login, or every reachable one cut the handshake.
 */
export function findSession(scope: SearchScope, preferred: number): Promise<Found> {
  const list = scope.indexes;
  const start = Math.max(0, list.indexOf(preferred));
  return new Search(scope, [...list.slice(start), ...list.slice(0, start)]).run();
}

/** One search: its attempts out, what is left to try, and why endpoints were passed over. */
class Search {
  readonly #scope: SearchScope;
  readonly #race: AttemptRace;
  // Endpoints up when the search began, not yet tried, in rotation order.
  readonly #queue: number[];
  // Endpoints checked outside the rate limit's window by this search (once each).
  readonly #forced = new Set<number>();
  readonly #found: SearchFindings;
  #stepping = false;
  #headStartEnds: number;

  constructor(scope: SearchScope, order: number[]) {
    this.#scope = scope;
    this.#race = new AttemptRace(scope.set);
    this.#found = new SearchFindings(scope);
    const { set } = scope;
    // Probes go out at once (one per endpoint: `begin()` marks it probing);
    // one of a role that does not match only when it is checked again.
    for (const i of order) {
      if (set.up(i) || !set.usable(i)) continue;
      const known = scope.checksRole ? set.roles.roleOf(i) : undefined;
      if (known === undefined || serves(known, scope.target, false)) this.#start(i, true);
      else this.#found.passOver(i, known);
    }
    this.#headStartEnds = set.clock.now() + PROBE_HEAD_START_MS;
    this.#queue = order.filter((i) => set.up(i));
  }

  async run(): Promise<Found> {
    const race = this.#race;
    try {
      for (;;) {
        if (!this.#stepping && !this.#holding()) {
          const i = this.#nextStep();
          if (i >= 0 && race.probes === 0 && race.arrived === 0) {
            // Nothing else out (the common case): the step is awaited as such.
            const { set, checksRole, extra } = this.#scope;
            let got = await set.attempt(i, checksRole, extra);
            if (!got.connection && got.kind === "handshake") {
              got = await tryEndpoint(this.#scope, i, HANDSHAKE_TRIES - 1);
            }
            const found = this.#found.take({ endpoint: i, got, probe: false });
            if (found) return found;
            continue;
          }
          if (i >= 0) this.#start(i, false);
        }
        // Nothing more can come, or a fallback serves and only probes are out.
        const { fallback } = this.#found;
        if (!this.#stepping && race.arrived === 0 && (fallback || race.probes === 0)) break;
        const outcome = await race.next(this.#waitMs());
        // The pool ended: what arrives later is closed (finally), nobody waits for it.
        if (this.#scope.set.searches.ended) throw new PoolClosedError();
        if (outcome === undefined) continue; // a head start ended, or a role check's window opened
        if (!outcome.probe) this.#stepping = false;
        const found = this.#found.take(outcome);
        if (found) return found;
      }
      const fallback = this.#found.fallback;
      this.#found.fallback = undefined;
      if (fallback) return fallback;
      throw this.#found.failure();
    } finally {
      // Sessions not taken are closed, now or when they arrive.
      this.#race.end();
      this.#found.dropFallback();
    }
  }

  // Endpoints that are up wait while a probe has its head start: a server
  // back after an outage answers the probe, and no second session opens.
  #holding(): boolean {
    if (this.#race.probes === 0 || this.#scope.set.clock.now() >= this.#headStartEnds) {
      return false;
    }
    const { set, target, checksRole } = this.#scope;
    return this.#queue.some((i) => {
      const known = checksRole ? set.roles.roleOf(i) : undefined;
      return set.usable(i) && (known === undefined || serves(known, target, false));
    });
  }

  // How long to wait for an outcome before the search may take its next step.
  #waitMs(): number {
    if (this.#stepping) return Infinity;
    if (this.#holding()) return this.#headStartEnds - this.#scope.set.clock.now();
    return this.#untilRecheckMs();
  }

  #start(i: number, probe: boolean): void {
    if (!probe) this.#stepping = true;
    this.#race.add(i, tryEndpoint(this.#scope, i), probe);
  }

  // The next endpoint of the sequence to try now, or -1.
  #nextStep(): number {
    const { set, target, checksRole } = this.#scope;
    while (this.#queue.length > 0) {
      const i = this.#queue.shift()!;
      if (!set.usable(i)) continue;
      const known = checksRole ? set.roles.roleOf(i) : undefined;
      if (known === undefined || serves(known, target, false)) return i;
      this.#found.passOver(i, known);
    }
    const list = this.#found.mismatched;
    for (let k = 0; k < list.length; k++) {
      const i = list[k];
      if (!set.usable(i)) continue;
      const known = set.roles.roleOf(i);
      // Learned meanwhile to match; a fallback's server once; else a rate-limited check.
      const due = known === undefined || serves(known, target, false) ||
        (serves(known, target, true) ? !this.#found.fallback : this.#recheckDue(i));
      if (!due) continue;
      list.splice(k--, 1);
      if (set.up(i)) return i;
      this.#start(i, true);
    }
    return -1;
  }

  // A caller held by a probe checks at once, once per endpoint: waiting for
  // the window would hold it as long as the window (the check is still booked).
  #recheckDue(i: number): boolean {
    const roles = this.#scope.set.roles;
    if (this.#race.probes === 0 || this.#forced.has(i)) return roles.recheckDue(i);
    this.#forced.add(i);
    return roles.recheckDue(i, true);
  }

  // Until the next role check of a mismatched endpoint is due (Infinity: none).
  #untilRecheckMs(): number {
    const { set, target } = this.#scope;
    let ms = Infinity;
    for (const i of this.#found.mismatched) {
      const known = set.roles.roleOf(i);
      if (!set.usable(i) || (known !== undefined && serves(known, target, true))) continue;
      ms = Math.min(ms, Math.max(1, set.roles.recheckInMs(i)));
    }
    return ms;
  }
}

// One endpoint tried, again after a cut handshake, `tries` times at most.
async function tryEndpoint(
  scope: SearchScope,
  i: number,
  tries = HANDSHAKE_TRIES,
): Promise<Attempt> {
  let got = await scope.set.attempt(i, scope.checksRole, scope.extra);
  for (let t = 1; t < tries && !got.connection && got.kind === "handshake"; t++) {
    got = await scope.set.attempt(i, scope.checksRole, scope.extra);
  }
  return got;
}
