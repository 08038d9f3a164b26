/**
 * The callers waiting for a resource: a FIFO (with front-of-queue places for callers already
 * served once) kept as a doubly-linked list of the waiters themselves (O(1) enqueue, dequeue and
 * cancel, no `Array.shift` over a long queue, no node besides the waiter), one timer for the whole
 * queue armed for the earliest deadline, abort signals, a bound (past it a caller is turned away).
 *
 * @module
 */
import type { Clock, TimerHandle } from "./clock.ts";

// setTimeout's largest delay (2^31 - 1 ms).
const MAX_TIMER_MS = 2_147_483_647;
const queueFull = () => new Error("wait queue full");

/** How long a caller may wait, and what cancels the wait. */
export interface WaitOptions {
  /** Cancels the wait; it rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Longest wait in the queue, in milliseconds (past 2^31 - 1: no limit). */
  timeoutMs: number;
}

// One queued caller; the list links run through the waiters themselves.
interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  /** Clock time at which it times out (Infinity: never). */
  deadline: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  prev: Waiter<T> | undefined;
  next: Waiter<T> | undefined;
  /** `false` once dequeued or removed, so a late cancel is a no-op. */
  queued: boolean;
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
  #head: Waiter<T> | undefined;
  #tail: Waiter<T> | undefined;
  #size = 0;
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
    return this.#size;
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
   * @param front Whether to queue ahead of every other waiter.
   * @param counted Whether the wait counts in {@linkcode WaitList.waited}.
   * @returns What the caller is handed.
   * @throws `signal.reason` (as a rejection) when the signal aborts, at once if already aborted.
   * @throws The `full` error (as a rejection) for a counted, not `front` wait past `max`.
   */
  wait(options: WaitOptions, front: boolean, counted: boolean): Promise<T> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (counted && !front && this.#size >= this.#maxWaiting) {
      this.#rejected++;
      return Promise.reject(this.#overloadError());
    }
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
        prev: undefined,
        next: undefined,
        queued: true,
      };
      if (front) this.#unshift(waiter);
      else this.#push(waiter);
      if (deadline < this.#timerAt) this.#armTimer(deadline);
      if (signal) {
        waiter.onAbort = () => {
          this.#remove(waiter);
          if (this.#size === 0) this.#disarmTimer();
          this.#settle(waiter, signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
    });
  }

  /**
   * Hands `value` to the oldest waiter.
   *
   * @param value What the waiter is handed.
   * @returns Whether a waiter took it (`false`: nobody waits).
   */
  resolveNext(value: T): boolean {
    const waiter = this.#shift();
    if (!waiter) return false;
    if (this.#size === 0 && this.#timer !== undefined) this.#disarmTimer();
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    waiter.resolve(value);
    return true;
  }

  /**
   * Rejects the oldest waiter, if any, with `err`.
   *
   * @param err The rejection reason.
   */
  rejectNext(err: unknown): void {
    const waiter = this.#shift();
    if (this.#size === 0) this.#disarmTimer();
    if (waiter) this.#settle(waiter, err);
  }

  /**
   * Rejects every waiter with `err`, oldest first, and disarms the timer.
   *
   * @param err The rejection reason.
   */
  rejectAll(err: unknown): void {
    for (let w = this.#shift(); w; w = this.#shift()) this.#settle(w, err);
    this.#disarmTimer();
  }

  #push(waiter: Waiter<T>): void {
    waiter.prev = this.#tail;
    if (this.#tail) this.#tail.next = waiter;
    else this.#head = waiter;
    this.#tail = waiter;
    this.#size++;
  }

  #unshift(waiter: Waiter<T>): void {
    waiter.next = this.#head;
    if (this.#head) this.#head.prev = waiter;
    else this.#tail = waiter;
    this.#head = waiter;
    this.#size++;
  }

  #shift(): Waiter<T> | undefined {
    const waiter = this.#head;
    if (waiter) this.#remove(waiter);
    return waiter;
  }

  #remove(waiter: Waiter<T>): void {
    if (!waiter.queued) return;
    waiter.queued = false;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.#head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#tail = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.#size--;
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
    for (let w = this.#head; w; w = w.next) {
      if (w.deadline <= now) expired.push(w);
      else if (w.deadline < next) next = w.deadline;
    }
    // Errors are built before anyone leaves the queue, so messages count them all.
    const errors = expired.map((w) => this.#timeoutError(w.timeoutMs));
    for (const w of expired) this.#remove(w);
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
