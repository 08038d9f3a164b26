/**
 * The callers waiting for a resource: a FIFO (with front-of-queue places for
 * callers already served once), one timer for the whole queue armed for the
 * earliest deadline, abort signals, and the `waited`/`timedOut` counters.
 *
 * @example A waiter served by the next hand-off
 * ```ts
 * import { systemClock } from "./clock.ts";
 * import { WaitList } from "./wait_list.ts";
 *
 * const waiters = new WaitList<string>(systemClock, (ms) => new Error(`waited ${ms} ms`));
 * const waiting = waiters.wait({ timeoutMs: 1000 }, false, true);
 * waiters.resolveNext("a resource");
 * console.log(await waiting); // "a resource"
 * ```
 *
 * @module
 */
import type { Clock, TimerHandle } from "./clock.ts";
import { type WaiterNode, WaiterQueue } from "./waiter_queue.ts";

// setTimeout's largest delay (2^31 - 1 ms).
const MAX_TIMER_MS = 2_147_483_647;

/** How long a caller may wait, and what cancels the wait. */
export interface WaitOptions {
  /** Cancels the wait; it rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Longest wait in the queue, in milliseconds (past 2^31 - 1: no limit). */
  timeoutMs: number;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  /** Clock time at which it times out (Infinity: never). */
  deadline: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * A FIFO of callers waiting for a value, with one timer per queue: a waiter
 * costs no timer of its own. The timer is armed for the earliest deadline and
 * disarmed whenever the queue becomes empty.
 *
 * @typeParam T What a waiter is handed.
 *
 * @example Timeouts reject with the owner's error
 * ```ts
 * import { systemClock } from "./clock.ts";
 * import { WaitList } from "./wait_list.ts";
 *
 * const waiters = new WaitList<number>(systemClock, (ms) => new Error(`timed out after ${ms} ms`));
 * await waiters.wait({ timeoutMs: 10 }, false, true).catch((err) => console.log(err.message));
 * console.log(waiters.timedOut); // 1
 * ```
 */
export class WaitList<T> {
  readonly #clock: Clock;
  readonly #timeoutError: (timeoutMs: number) => Error;
  readonly #queue = new WaiterQueue<Waiter<T>>();
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  #waited = 0;
  #timedOut = 0;

  /**
   * Builds an empty list.
   *
   * @param clock The clock for deadlines and the timer.
   * @param timeoutError The error for a caller that waited `timeoutMs` in vain;
   *   it is called while every expired waiter is still queued.
   */
  constructor(clock: Clock, timeoutError: (timeoutMs: number) => Error) {
    this.#clock = clock;
    this.#timeoutError = timeoutError;
  }

  /** Number of queued waiters. */
  get size(): number {
    return this.#queue.size;
  }

  /** Waits counted by {@linkcode WaitList.wait} since the start. */
  get waited(): number {
    return this.#waited;
  }

  /** Waiters rejected for their timeout since the start. */
  get timedOut(): number {
    return this.#timedOut;
  }

  /**
   * Queues a caller until {@linkcode WaitList.resolveNext} serves it, its
   * timeout passes, its signal aborts, or it is rejected.
   *
   * @example Jump the queue
   * ```ts
   * import { systemClock } from "./clock.ts";
   * import { WaitList } from "./wait_list.ts";
   *
   * const waiters = new WaitList<string>(systemClock, () => new Error("timeout"));
   * const second = waiters.wait({ timeoutMs: 1000 }, false, true);
   * const first = waiters.wait({ timeoutMs: 1000 }, true, false);
   * waiters.resolveNext("one");
   * waiters.resolveNext("two");
   * console.log(await first, await second); // "one" "two"
   * ```
   *
   * @param options Timeout and abort signal.
   * @param front Whether to queue ahead of every other waiter.
   * @param counted Whether the wait counts in {@linkcode WaitList.waited}.
   * @returns What the caller is handed.
   * @throws `signal.reason` (as a rejection) when the signal aborts, at once if already aborted.
   */
  wait(options: WaitOptions, front: boolean, counted: boolean): Promise<T> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (counted) this.#waited++;
    return new Promise<T>((resolve, reject) => {
      // Past the 32-bit limit runtimes fire timers at once: such a wait never times out.
      const timeoutMs = options.timeoutMs;
      const deadline = timeoutMs > MAX_TIMER_MS ? Infinity : this.#clock.now() + timeoutMs;
      const waiter: Waiter<T> = {
        resolve,
        reject,
        deadline,
        timeoutMs,
        signal,
        onAbort: undefined,
      };
      const node: WaiterNode<Waiter<T>> = front
        ? this.#queue.unshift(waiter)
        : this.#queue.push(waiter);
      if (deadline < this.#timerAt) this.#armTimer(deadline);
      if (signal) {
        waiter.onAbort = () => {
          this.#queue.remove(node);
          if (this.#queue.size === 0) this.#disarmTimer();
          this.#settle(waiter, signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
    });
  }

  /**
   * Hands `value` to the oldest waiter.
   *
   * @example
   * ```ts
   * import { systemClock } from "./clock.ts";
   * import { WaitList } from "./wait_list.ts";
   *
   * const waiters = new WaitList<string>(systemClock, () => new Error("timeout"));
   * console.log(waiters.resolveNext("unwanted")); // false: nobody waits
   * ```
   *
   * @param value What the waiter is handed.
   * @returns Whether a waiter took it.
   */
  resolveNext(value: T): boolean {
    const waiter = this.#queue.shift();
    if (!waiter) return false;
    if (this.#queue.size === 0 && this.#timer !== undefined) this.#disarmTimer();
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    waiter.resolve(value);
    return true;
  }

  /**
   * Rejects the oldest waiter, if any, with `err`.
   *
   * @example
   * ```ts
   * import { systemClock } from "./clock.ts";
   * import { WaitList } from "./wait_list.ts";
   *
   * const waiters = new WaitList<string>(systemClock, () => new Error("timeout"));
   * const waiting = waiters.wait({ timeoutMs: 1000 }, false, true);
   * waiters.rejectNext(new Error("connect failed"));
   * await waiting.catch((err) => console.log(err.message)); // "connect failed"
   * ```
   *
   * @param err The rejection reason.
   */
  rejectNext(err: unknown): void {
    const waiter = this.#queue.shift();
    if (this.#queue.size === 0) this.#disarmTimer();
    if (waiter) this.#settle(waiter, err);
  }

  /**
   * Rejects every waiter with `err`, oldest first, and disarms the timer.
   *
   * @example
   * ```ts
   * import { systemClock } from "./clock.ts";
   * import { WaitList } from "./wait_list.ts";
   *
   * const waiters = new WaitList<string>(systemClock, () => new Error("timeout"));
   * const waiting = waiters.wait({ timeoutMs: 1000 }, false, true);
   * waiters.rejectAll(new Error("pool closed"));
   * await waiting.catch((err) => console.log(err.message)); // "pool closed"
   * ```
   *
   * @param err The rejection reason.
   */
  rejectAll(err: unknown): void {
    for (let w = this.#queue.shift(); w; w = this.#queue.shift()) this.#settle(w, err);
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
    for (let node = this.#queue.head; node; node = node.next) {
      if (node.value.deadline <= now) expired.push(node.value);
      else if (node.value.deadline < next) next = node.value.deadline;
    }
    // Errors are built before anyone leaves the queue, so messages count them all.
    const errors = expired.map((w) => this.#timeoutError(w.timeoutMs));
    for (let node = this.#queue.head; node;) {
      const following = node.next;
      if (node.value.deadline <= now) this.#queue.remove(node);
      node = following;
    }
    expired.forEach((w, i) => {
      this.#timedOut++;
      this.#settle(w, errors[i]);
    });
    if (next < Infinity) this.#armTimer(next);
  }

  #settle(waiter: Waiter<T>, err: unknown): void {
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    waiter.reject(err);
  }
}
