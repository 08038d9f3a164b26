/**
 * FIFO of callers waiting for a resource: O(1) enqueue, dequeue and cancel
 * (a doubly-linked list, no `Array.shift` over a long queue).
 *
 * @module
 */

/** One queued caller. The queue owns the links; `value` is the caller's. */
export interface WaiterNode<T> {
  value: T;
  prev: WaiterNode<T> | undefined;
  next: WaiterNode<T> | undefined;
  /** `false` once dequeued or removed, so a late cancel is a no-op. */
  queued: boolean;
}

/** A FIFO queue with O(1) removal of any node. */
export class WaiterQueue<T> {
  #head: WaiterNode<T> | undefined;
  #tail: WaiterNode<T> | undefined;
  #size = 0;

  /** The oldest queued node (walk on with `next`), or `undefined`. */
  get head(): WaiterNode<T> | undefined {
    return this.#head;
  }

  /** Number of queued waiters. */
  get size(): number {
    return this.#size;
  }

  /**
   * Adds a waiter at the tail.
   *
   * @param value The waiter.
   * @returns Its node, to pass to {@linkcode WaiterQueue.remove}.
   */
  push(value: T): WaiterNode<T> {
    const node: WaiterNode<T> = { value, prev: this.#tail, next: undefined, queued: true };
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    this.#size++;
    return node;
  }

  /**
   * Adds a waiter at the head: it is served before every other.
   *
   * @param value The waiter.
   * @returns Its node, to pass to {@linkcode WaiterQueue.remove}.
   */
  unshift(value: T): WaiterNode<T> {
    const node: WaiterNode<T> = { value, prev: undefined, next: this.#head, queued: true };
    if (this.#head) this.#head.prev = node;
    else this.#tail = node;
    this.#head = node;
    this.#size++;
    return node;
  }

  /**
   * Takes the oldest waiter.
   *
   * @returns It, or `undefined` when the queue is empty.
   */
  shift(): T | undefined {
    const node = this.#head;
    if (!node) return undefined;
    this.remove(node);
    return node.value;
  }

  /**
   * Removes a waiter wherever it stands; no-op if it already left.
   *
   * @param node The node {@linkcode WaiterQueue.push} returned.
   */
  remove(node: WaiterNode<T>): void {
    if (!node.queued) return;
    node.queued = false;
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = node.next = undefined;
    this.#size--;
  }
}
