/**
 * The callers waiting for a resource: a FIFO (front places, in rank order, for callers served once)
 * kept as a doubly-linked list of the waiters themselves (O(1) enqueue, dequeue and cancel, no node
 * besides the waiter), one timer armed for the earliest deadline, abort signals, and a bound.
 *
 * @module
 */
import { type Clock, MAX_TIMER_MS, type TimerHandle } from "./clock.ts";
import { type WaitContinuation, type Waiter, WaiterChain } from "./waiter_chain.ts";

export type { WaitContinuation };

const queueFull = () => new Error("wait queue full");

/** How long a caller may wait, and what cancels the wait. */
export interface WaitOptions {
  /** Cancels the wait; it rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Longest wait in the queue, in milliseconds (past 2^31 - 1: no limit). */
  timeoutMs: number;
  /**
   * Clock time the caller began to wait, when before this wait (a caller served
   * and sent back to wait again, in a front place): its deadline counts from then.
   */
  since?: number;
}

/**
 * A FIFO of callers waiting for a value, with one timer per queue: a waiter
 * costs no timer of its own. The timer is armed for the earliest deadline and
 * disarmed whenever the queue becomes empty.
 *
 * @typeParam T What a waiter is handed.
 */
export class WaitList<T> {
  readonly #clock: Clock;
  readonly #timeoutError: (timeoutMs: number) => Error;
  readonly #chain = new WaiterChain<T>();
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  #waited = 0;
  #timedOut = 0;
  #rejected = 0;
  readonly #maxWaiting: number;
  readonly #overloadError: () => Error;

  /**
   * Builds an empty list.
   *
   * @param clock The clock for deadlines and the timer.
   * @param timeoutError The error for a caller that waited `timeoutMs` in vain;
   *   it is called while every expired waiter is still queued.
   * @param max Most waiters queued at once (Infinity: unbounded).
   * @param full The error for a caller past `max`.
   */
  constructor(clock: Clock, timeoutError: (ms: number) => Error, max = Infinity, full = queueFull) {
    this.#clock = clock;
    this.#timeoutError = timeoutError;
    this.#maxWaiting = max;
    this.#overloadError = full;
  }

  /** Number of queued waiters. */
  get size(): number {
    return this.#chain.size;
  }

  /** Waits counted by {@linkcode WaitList.wait} since the start. */
  get waited(): number {
    return this.#waited;
  }

  /** Waiters rejected for their timeout since the start. */
  get timedOut(): number {
    return this.#timedOut;
  }

  /** Callers turned away at once because the queue was full. */
  get rejected(): number {
    return this.#rejected;
  }

  /**
   * Queues a caller until {@linkcode WaitList.resolveNext} serves it, its
   * timeout passes, its signal aborts, or it is rejected.
   *
   * @param options Timeout and abort signal.
   * @param front Whether to queue ahead of the callers queued with `false`: `true`, first (after
   *   earlier `true` ones); a positive integer, among the front places by that rank (lower first,
   *   ties in arrival order), so callers served once and sent back keep their order.
   * @param counted Whether the wait counts in {@linkcode WaitList.waited}.
   * @param then Runs on the value when the waiter is served; its outcome settles the wait.
   * @param arg Passed to `then`.
   * @returns What the caller is handed (through `then` when given).
   * @throws `signal.reason` (as a rejection) when the signal aborts, at once if already aborted.
   * @throws The `full` error (as a rejection) for a counted, not `front` wait past `max`.
   * @throws The timeout error (as a rejection) at once for a `front` wait whose `options.since` is
   *   past its deadline.
   */
  wait<U = T>(
    options: WaitOptions,
    front: boolean | number,
    counted: boolean,
    then?: WaitContinuation<T, U>,
    arg?: unknown,
  ): Promise<U> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (counted && front === false && this.#chain.size >= this.#maxWaiting) {
      this.#rejected++;
      return Promise.reject(this.#overloadError());
    }
    let since = this.#clock.now();
    // 0: at the back (a small integer: no number boxed per waiter).
    let rank = 0;
    if (front !== false) {
      rank = front === true ? -1 : front;
      // A caller sent back to wait keeps its deadline; one whose time is up is not queued again.
      const began = options.since ?? since;
      if (began < since && deadlineOf(options, began) <= since) {
        this.#timedOut++;
        return Promise.reject(this.#timeoutError(options.timeoutMs));
      }
      since = began;
    }
    if (counted) this.#waited++;
    return new Promise<U>((resolve, reject) => {
      const deadline = deadlineOf(options, since);
      const waiter: Waiter<T> = {
        resolve: resolve as (value: unknown) => void,
        reject,
        options,
        since,
        rank,
        then,
        arg,
        onAbort: undefined,
        prev: undefined,
        next: undefined,
      };
      if (front === false) this.#chain.push(waiter);
      else this.#chain.insert(waiter);
      if (deadline < this.#timerAt) this.#armTimer(deadline);
      if (signal) {
        waiter.onAbort = () => {
          this.#chain.remove(waiter);
          if (this.#chain.size === 0) this.#disarmTimer();
          this.#settle(waiter, signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
    });
  }

  /** The rank of the first waiter (see {@linkcode WaitList.wait}'s `front`); Infinity: none ranked. */
  get firstRank(): number {
    const rank = this.#chain.head?.rank;
    return rank === undefined || rank === 0 ? Infinity : rank;
  }

  /**
   * Hands `value` to the oldest waiter.
   *
   * @param value What the waiter is handed.
   * @returns Whether a waiter took it (`false`: nobody waits).
   */
  resolveNext(value: T): boolean {
    const waiter = this.#chain.shift();
    if (!waiter) return false;
    if (this.#chain.size === 0 && this.#timer !== undefined) this.#disarmTimer();
    if (waiter.onAbort) waiter.options.signal!.removeEventListener("abort", waiter.onAbort);
    const then = waiter.then;
    if (then === undefined) waiter.resolve(value);
    else {
      try {
        waiter.resolve(then(value, waiter.options, waiter.since, waiter.arg));
      } catch (err) {
        waiter.reject(err);
      }
    }
    return true;
  }

  /**
   * Rejects the oldest waiter, if any, with `err`.
   *
   * @param err The rejection reason.
   */
  rejectNext(err: unknown): void {
    const waiter = this.#chain.shift();
    if (this.#chain.size === 0) this.#disarmTimer();
    if (waiter) this.#settle(waiter, err);
  }

  /**
   * Rejects every waiter with `err`, oldest first, and disarms the timer.
   *
   * @param err The rejection reason.
   */
  rejectAll(err: unknown): void {
    for (let w = this.#chain.shift(); w; w = this.#chain.shift()) this.#settle(w, err);
    this.#disarmTimer();
  }

  #armTimer(at: number): void {
    const clock = this.#clock;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = clock.setTimeout(() => this.#expire(), Math.max(0, at - clock.now()));
  }

  #disarmTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  // Rejects every waiter past its deadline, then re-arms for the next one.
  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    const expired: Waiter<T>[] = [];
    let next = Infinity;
    for (let w = this.#chain.head; w; w = w.next) {
      const deadline = deadlineOf(w.options, w.since);
      if (deadline <= now) expired.push(w);
      else if (deadline < next) next = deadline;
    }
    // Errors are built before anyone leaves the queue, so messages count them all.
    const errors = expired.map((w) => this.#timeoutError(w.options.timeoutMs));
    for (const w of expired) this.#chain.remove(w);
    expired.forEach((w, i) => {
      this.#timedOut++;
      this.#settle(w, errors[i]);
    });
    if (next < Infinity) this.#armTimer(next);
  }

  #settle(waiter: Waiter<T>, err: unknown): void {
    if (waiter.onAbort) waiter.options.signal!.removeEventListener("abort", waiter.onAbort);
    waiter.reject(err);
  }
}

// Past the 32-bit limit runtimes fire timers at once: such a wait never times out.
function deadlineOf(options: WaitOptions, since: number): number {
  return options.timeoutMs > MAX_TIMER_MS ? Infinity : since + options.timeoutMs;
}
