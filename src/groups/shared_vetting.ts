/**
 * The ping before use, for a pipelined group: a session nobody held for
 * longer than `pingAfterIdleMs` is asked `SELECT 1` before it is shared
 * again, and one whose server changed role while it sat idle (the ping's
 * reply carries the change) leaves the rotation. Callers that pick it
 * meanwhile wait for that one ping, each within its own timeout and signal.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { AcquireOptions } from "../core/resource_pool.ts";
import type { EndpointScope } from "../endpoints/endpoint_set.ts";
import { AcquireTimeoutError } from "../errors.ts";
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
  readonly #name: string;
  readonly #list: readonly Shared[];
  readonly #broken: (s: Shared, why: Why) => void;
  readonly #state: () => string;
  readonly #scope: EndpointScope;
  readonly #opts: SharedVettingOptions;
  // The ping in flight per session: one per session, whoever picked it first.
  readonly #pings = new Map<Shared, Promise<boolean>>();

  /**
   * Builds the vetting of one group.
   *
   * @param name The group's name.
   * @param list Its sessions in rotation.
   * @param broken Takes a session out of rotation and closes it.
   * @param state The group's state for error messages.
   * @param scope Its endpoints and target (does a session still fit).
   * @param opts The clock and the ping's thresholds.
   */
  constructor(
    name: string,
    list: readonly Shared[],
    broken: (s: Shared, why: Why) => void,
    state: () => string,
    scope: EndpointScope,
    opts: SharedVettingOptions,
  ) {
    this.#name = name;
    this.#list = list;
    this.#broken = broken;
    this.#state = state;
    this.#scope = scope;
    this.#opts = opts;
  }

  /**
   * Whether a session just picked without holders must be pinged first.
   *
   * @param s The session.
   * @returns True when it sat idle too long, or its ping is out.
   */
  needed(s: Shared): boolean {
    return this.#opts.clock.now() - s.idleFrom > this.#opts.pingAfterIdleMs ||
      this.#pings.has(s);
  }

  /**
   * Pings `s` (once, whoever asks first) and tells whether it may be shared.
   *
   * @param s The session.
   * @param options The caller's timeout and signal; `since` when its wait began.
   * @returns True when it answered and still fits; false once it left the rotation.
   * @throws The caller's abort reason, or its timeout error, whichever comes first.
   */
  vet(s: Shared, options: AcquireOptions): Promise<boolean> {
    let ping = this.#pings.get(s);
    if (ping === undefined) {
      ping = this.#ping(s);
      this.#pings.set(s, ping);
    }
    const { clock } = this.#opts;
    const left = (options.since ?? clock.now()) + options.timeoutMs - clock.now();
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const done = () => {
        clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => (done(), reject(signal!.reason));
      const timer = clock.setTimeout(
        () => (done(), reject(this.#timeoutError(options.timeoutMs))),
        Math.max(0, left),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      ping.then((fit) => (done(), resolve(fit)));
    });
  }

  // The session's fate is the ping's, not any one caller's: bounded by pingTimeoutMs alone.
  async #ping(s: Shared): Promise<boolean> {
    const { clock, pingTimeoutMs } = this.#opts;
    const outcome = await pingWithin(s.connection, clock, pingTimeoutMs, undefined, () => {});
    this.#pings.delete(s);
    if (!this.#list.includes(s)) return false;
    if (outcome !== "ok") this.#broken(s, "ping-failed");
    else if (this.#scope.checksRole && !this.#scope.fits(s.endpoint, s.connection)) {
      this.#broken(s, "role-changed");
    } else {
      s.idleFrom = clock.now();
      return true;
    }
    return false;
  }

  #timeoutError(ms: number): AcquireTimeoutError {
    return new AcquireTimeoutError(
      `Cannot lease from group "${this.#name}": an idle session's ping did not answer within the ${ms} ms wait (${this.#state()})`,
    );
  }
}
