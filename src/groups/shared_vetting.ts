/**
 * The ping before use, for a pipelined group: a session nobody held for
 * longer than `pingAfterIdleMs` is asked `SELECT 1` (or the role query, see
 * `EndpointScope.ping`) before it is shared again. It is out of rotation
 * while the ping is out, so callers share the other sessions or wait, as for
 * a first session, within their timeout, signal and `maxWaiting`; once it
 * answers, the waiting callers share it. A failed ping or a changed role
 * closes it.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { WaitList } from "../core/wait_list.ts";
import type { EndpointScope } from "../endpoints/endpoint_set.ts";
import type { Shared } from "../handler/shared_handler.ts";
import type { SessionCloseReason as Why } from "../observe/events.ts";
import { pingWithin } from "./ping.ts";

/** The clock and the ping's thresholds (the pool's options). */
export interface SharedVettingOptions {
  readonly clock: Clock;
  readonly pingAfterIdleMs: number;
  readonly pingTimeoutMs: number;
}

/** Vets the idle sessions one pipelined group shares again. */
export class SharedVetting {
  readonly #list: readonly Shared[];
  readonly #group: { broken(s: Shared, why: Why): void };
  readonly #waiters: WaitList<Shared>;
  readonly #scope: EndpointScope;
  readonly #opts: SharedVettingOptions;

  /**
   * Builds the vetting of one group.
   *
   * @param list Its sessions in rotation.
   * @param group Its `broken`: takes a session out of rotation and closes it.
   * @param waiters The callers waiting for a session.
   * @param scope Its endpoints and target (does a session still fit).
   * @param opts The clock and the ping's thresholds.
   */
  constructor(
    list: readonly Shared[],
    group: { broken(s: Shared, why: Why): void },
    waiters: WaitList<Shared>,
    scope: EndpointScope,
    opts: SharedVettingOptions,
  ) {
    this.#list = list;
    this.#group = group;
    this.#waiters = waiters;
    this.#scope = scope;
    this.#opts = opts;
  }

  /**
   * Whether a session picked without holders sat idle too long to be shared
   * unasked. One clock read per such pick, none per release: "idle" counts
   * from when it was last picked without holders, so one that was busy for
   * longer than the window is pinged once more, harmlessly.
   *
   * @param s The session.
   * @returns True when it must be pinged first.
   */
  due(s: Shared): boolean {
    const now = this.#opts.clock.now();
    if (now - s.idleFrom > this.#opts.pingAfterIdleMs) return true;
    s.idleFrom = now;
    return false;
  }

  /**
   * Pings `s`, out of rotation until it answered.
   *
   * @param s The session.
   */
  start(s: Shared): void {
    s.pinging = true;
    void this.#ping(s);
  }

  // The session's fate is the ping's, not any one caller's: bounded by pingTimeoutMs alone.
  async #ping(s: Shared): Promise<void> {
    const { clock, pingTimeoutMs } = this.#opts;
    const scope = this.#scope;
    const send = () => scope.ping(s.endpoint, s.connection);
    const outcome = await pingWithin(send, clock, pingTimeoutMs, undefined, () => {});
    s.pinging = false;
    if (!this.#list.includes(s)) return;
    if (outcome !== "ok") return this.#group.broken(s, "ping-failed");
    if (!scope.fits(s.endpoint, s.connection)) return this.#group.broken(s, "role-changed");
    s.idleFrom = clock.now();
    // Every caller waiting for a session shares it, as a session just opened.
    while (this.#waiters.resolveNext(s));
  }
}
