/**
 * The waiters of a {@linkcode WaitList} as a doubly-linked list through the
 * waiters themselves: O(1) enqueue, dequeue and cancel, no node besides the
 * waiter, no `Array.shift` over a long queue.
 *
 * @module
 */
import type { WaitOptions } from "./wait_list.ts";

/**
 * What a served waiter's value becomes before its caller gets it, run when it
 * is served: the owner's next step without a promise of its own per wait.
 * What it returns (or a promise of it) settles the wait; what it throws rejects it.
 */
export type WaitContinuation<T, U> = (
  value: T,
  options: WaitOptions,
  since: number,
  arg: unknown,
) => U | Promise<U>;

/** The rank of a waiter no longer in the list. */
export const DEQUEUED = -2;

// One queued caller; the list links run through the waiters themselves.
export interface Waiter<T> {
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** The caller's options (its timeout and signal). */
  options: WaitOptions;
  /** Clock time it started waiting. */
  since: number;
  /**
   * Its place among the front places (lower first; -1: ahead of ranks); 0: at
   * the back; {@linkcode DEQUEUED} once dequeued or removed, so that a late
   * cancel is a no-op (no field of its own: a waiter is kept per queued caller).
   */
  rank: number;
  then: WaitContinuation<T, unknown> | undefined;
  arg: unknown;
  onAbort: (() => void) | undefined;
  prev: Waiter<T> | undefined;
  next: Waiter<T> | undefined;
}

/** The list. */
export class WaiterChain<T> {
  /** The oldest waiter. */
  head: Waiter<T> | undefined;
  #tail: Waiter<T> | undefined;
  /** Number of waiters linked. */
  size = 0;

  push(waiter: Waiter<T>): void {
    waiter.prev = this.#tail;
    if (this.#tail) this.#tail.next = waiter;
    else this.head = waiter;
    this.#tail = waiter;
    this.size++;
  }

  /** Links `waiter` after every waiter of a lower or equal rank (they are few: callers served once). */
  insert(waiter: Waiter<T>): void {
    let after: Waiter<T> | undefined;
    for (let w = this.head; w && w.rank !== 0 && w.rank <= waiter.rank; w = w.next) after = w;
    if (after === this.#tail) return this.push(waiter);
    const before = after ? after.next! : this.head!;
    waiter.prev = after;
    waiter.next = before;
    before.prev = waiter;
    if (after) after.next = waiter;
    else this.head = waiter;
    this.size++;
  }

  shift(): Waiter<T> | undefined {
    const waiter = this.head;
    if (waiter) this.remove(waiter);
    return waiter;
  }

  remove(waiter: Waiter<T>): void {
    if (waiter.rank === DEQUEUED) return;
    waiter.rank = DEQUEUED;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#tail = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.size--;
  }
}
