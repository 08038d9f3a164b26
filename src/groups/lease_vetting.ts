/**
 * The PostgreSQL side of handing out an exclusive group's session: a dead
 * session or one whose server changed role is replaced, and one that sat
 * idle past `pingAfterIdleMs` is pinged first (and replaced if the ping
 * fails), all within the caller's timeout and signal.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { AcquireOptions, PoolEntry, ResourcePool } from "../core/resource_pool.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointScope } from "../endpoints/endpoint_set.ts";
import type { AcquireTimeoutError } from "../errors.ts";
import type { SessionCloseReason as Why } from "../observe/events.ts";
import { pingWithin } from "./ping.ts";

type Entry = PoolEntry<DriverConnection>;
type Sessions = ResourcePool<DriverConnection, Why>;

/** What vetting needs of its group. */
export interface VettingGroup {
  /** Gives back a session whose ping answered after its caller gave up. */
  release(entry: Entry): void;
  /** Closes a session found unusable. */
  destroy(entry: Entry, why: Why): void;
  /** The error of a caller whose time ran out while a session was pinged. */
  timeoutError(ms: number, why: string): AcquireTimeoutError;
}

/** The clock and the ping's thresholds (the pool's options). */
export interface VettingOptions {
  readonly clock: Clock;
  /** Idle time past which a session is pinged. */
  readonly pingAfterIdleMs: number;
  /** The ping's own deadline. */
  readonly pingTimeoutMs: number;
}

/**
 * Vets the sessions one group hands out. A caller sent back to wait (its
 * session was dead or failed its ping) keeps its place: it ranks by when it
 * was first served, ahead of later callers, and a session that passes a
 * younger caller's ping goes to it instead (the younger one then waits in
 * its place). The ranks cost nothing on the fast path: only a caller whose
 * session needs a ping or a replacement takes one.
 */
export class LeaseVetting {
  readonly #group: VettingGroup;
  readonly #pool: Sessions;
  readonly #scope: EndpointScope;
  readonly #opts: VettingOptions;
  // The last rank given: callers are served in arrival order, so ranks follow it.
  #ranks = 0;

  /**
   * Builds the vetting of one group.
   *
   * @param group The group.
   * @param pool Its resource pool (for replacements).
   * @param scope Its endpoints and target (does a session still fit).
   * @param opts The clock and the ping's thresholds.
   */
  constructor(group: VettingGroup, pool: Sessions, scope: EndpointScope, opts: VettingOptions) {
    this.#group = group;
    this.#pool = pool;
    this.#scope = scope;
    this.#opts = opts;
  }

  /**
   * A live session for the caller: `entry`, or a replacement.
   *
   * @param entry The entry the pool handed out.
   * @param options The caller's timeout and signal.
   * @param start When the caller began to wait; -1: it did not (its ping gets what is left of its timeout).
   * @param rank The caller's rank once it has one; 0: none yet.
   * @returns The entry to hand out, synchronously unless a ping or a replacement is needed.
   */
  vet(entry: Entry, options: AcquireOptions, start: number, rank = 0): Entry | Promise<Entry> {
    if (entry.resource.closed) return this.#replace(entry, options, start, "broken", rank);
    // A session whose server changed role no longer serves a group with a target.
    if (this.#scope.checksRole && !this.#scope.fits(entry.partition, entry.resource)) {
      return this.#replace(entry, options, start, "role-changed", rank);
    }
    // One clock read per lease: "idle" counts from when it was last handed
    // out, so a lease held longer than the window is pinged once more, harmlessly.
    const now = this.#opts.clock.now();
    const idleMs = now - entry.lastUsed;
    entry.lastUsed = now;
    if (idleMs > this.#opts.pingAfterIdleMs) {
      return this.#ping(entry, options, start < 0 ? now : start, rank || ++this.#ranks);
    }
    return entry;
  }

  // The caller's timeout and signal win over the ping's own deadline.
  async #ping(entry: Entry, options: AcquireOptions, start: number, rank: number): Promise<Entry> {
    const { clock, pingTimeoutMs } = this.#opts;
    const left = start + options.timeoutMs - clock.now();
    const budget = Math.max(0, Math.min(pingTimeoutMs, left));
    const group = this.#group;
    const send = () => this.#scope.ping(entry.partition, entry.resource);
    const outcome = await pingWithin(send, clock, budget, options.signal, (ok) => {
      // The session goes back only once its ping answered.
      if (ok) group.release(entry);
      else group.destroy(entry, "ping-failed");
    });
    if (outcome === "ok") {
      // The ping's reply carries any role change the server reported while the session sat idle.
      if (this.#scope.checksRole && !this.#scope.fits(entry.partition, entry.resource)) {
        return await this.#replace(entry, options, start, "role-changed", rank);
      }
      // An older caller was sent back meanwhile: the session is its, and this caller waits in its place.
      if (this.#pool.handOver(entry, rank)) {
        const again = keepDeadline(options, start);
        return await this.#next(this.#pool.acquire(again, rank), again, start, rank);
      }
      return entry;
    }
    if (outcome === "aborted") throw options.signal!.reason;
    // Failed or unanswered: the session is broken; the caller moves on, unless its own time is up.
    if (outcome === "late" && budget >= left) {
      group.destroy(entry, "ping-failed");
      throw group.timeoutError(options.timeoutMs, "; an idle session's ping went unanswered");
    }
    return await this.#replace(entry, options, start, "ping-failed", rank);
  }

  // The caller keeps its place in line (it is served before later callers) and its deadline.
  #replace(entry: Entry, options: AcquireOptions, start: number, why: Why, rank: number) {
    rank ||= ++this.#ranks;
    const again = keepDeadline(options, start < 0 ? this.#opts.clock.now() : start);
    return this.#next(this.#pool.replace(entry, again, why, rank), again, again.since!, rank);
  }

  #next(got: Entry | Promise<Entry>, options: AcquireOptions, start: number, rank: number) {
    if (got instanceof Promise) return got.then((next) => this.vet(next, options, start, rank));
    return this.vet(got, options, start, rank);
  }
}

// The options of a caller sent back to wait: its wait counts from when it began, not from now.
function keepDeadline(options: AcquireOptions, start: number): AcquireOptions {
  if (options.since === start) return options;
  return { signal: options.signal, timeoutMs: options.timeoutMs, since: start };
}
