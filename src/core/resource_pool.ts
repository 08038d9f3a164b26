/**
 * A generic resource pool that knows nothing of SQL: acquire, release and
 * destroy over resources spread across partitions (for the PostgreSQL layer,
 * one partition per endpoint), with a FIFO of waiters, a size limit and stats.
 *
 * Lease is synchronous when an idle resource is at hand: no promise, no timer.
 *
 * @module
 */
import type { TimerHandle } from "./clock.ts";
import { WaitList, type WaitOptions } from "./wait_list.ts";
import type {
  Created,
  PoolEntry,
  ResourcePoolOptions,
  ResourcePoolStats,
} from "./resource_pool_types.ts";

export type {
  Created,
  PoolEntry,
  ResourcePoolOptions,
  ResourcePoolStats,
} from "./resource_pool_types.ts";

/** Per-acquire options: the timeout and abort signal of the wait. */
export type AcquireOptions = WaitOptions;

/**
 * The pool.
 *
 * @example Lease and give back
 * ```ts
 * import { systemClock } from "./clock.ts";
 * import { ResourcePool } from "./resource_pool.ts";
 *
 * const pool = new ResourcePool<object>({
 *   max: 2,
 *   partitions: 1,
 *   nextPartition: () => 0,
 *   create: (partition) => Promise.resolve({ resource: {}, partition }),
 *   destroy: () => {},
 *   clock: systemClock,
 *   timeoutError: (ms) => new Error(`no resource within ${ms} ms`),
 *   closedError: () => new Error("closed"),
 * });
 * const entry = await pool.acquire({ timeoutMs: 1000 });
 * pool.release(entry);
 * await pool.close(0);
 * ```
 */
export class ResourcePool<R> {
  readonly #opts: ResourcePoolOptions<R>;
  readonly #idle: PoolEntry<R>[][] = [];
  // FIFO of callers, with one timer for the whole queue.
  readonly #waiters: WaitList<PoolEntry<R>>;
  // Every live entry (changes only on create and drop, never per lease), so
  // close() can find the leased ones; per lease only the flag and a count move.
  readonly #live = new Set<PoolEntry<R>>();
  #leasedCount = 0;
  #idleCount = 0;
  #total = 0;
  #pending = 0;
  #closed = false;
  #drained: (() => void) | undefined;
  #acquired = 0;
  #created = 0;
  #createFailed = 0;
  #destroyed = 0;

  /**
   * Builds an empty pool; it opens resources lazily.
   *
   * @param opts Limits and the owner's hooks.
   */
  constructor(opts: ResourcePoolOptions<R>) {
    this.#opts = opts;
    // Through `opts`, as before: the owner's hook may use `this`.
    this.#waiters = new WaitList(opts.clock, (ms) => opts.timeoutError(ms));
    for (let i = 0; i < opts.partitions; i++) this.#idle.push([]);
  }

  /** Whether {@linkcode ResourcePool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Leases a resource: an idle one on the next partition in rotation; else a
   * new one there while under `max`; else any idle one; else waits in FIFO order.
   *
   * @param options Timeout and abort signal for the wait.
   * @returns The entry, synchronously when one was idle.
   * @throws The closed error when the pool is closed.
   */
  acquire(options: AcquireOptions, front = false): PoolEntry<R> | Promise<PoolEntry<R>> {
    if (this.#closed) throw this.#opts.closedError();
    const partition = this.#opts.nextPartition();
    const underMax = this.#total < this.#opts.max;
    if (partition >= 0) {
      const entry = this.#idle[partition].pop();
      if (entry) return this.#lease(entry);
    }
    if (!underMax || partition < 0) {
      const entry = this.#popAnyIdle(partition);
      if (entry) return this.#lease(entry);
    }
    // Opening a resource is waiting too: the caller's timeout, signal and
    // close() apply, and whoever is first in line gets the result.
    const waiting = this.#waiters.wait(options, front, !underMax);
    if (underMax) this.#refill(partition);
    return waiting;
  }

  /**
   * Drops a leased resource found unusable (dead, failed its ping) and leases
   * another for the same caller, ahead of every queued waiter.
   *
   * @param entry The leased entry to drop.
   * @param options The caller's timeout and signal.
   * @returns Another entry.
   */
  replace(entry: PoolEntry<R>, options: AcquireOptions): PoolEntry<R> | Promise<PoolEntry<R>> {
    if (entry.leased) {
      this.#unlease(entry);
      this.#drop(entry);
    }
    return this.acquire(options, true);
  }

  /**
   * Returns a healthy resource to the pool (or straight to the oldest waiter).
   *
   * @param entry An entry from {@linkcode ResourcePool.acquire}.
   */
  release(entry: PoolEntry<R>): void {
    if (!entry.leased) return;
    this.#unlease(entry);
    if (this.#closed) {
      this.#drop(entry);
      this.#checkDrained();
      return;
    }
    this.#offer(entry);
  }

  /**
   * Destroys a resource (broken, or leased and no longer wanted); its slot is
   * refilled for a waiter if one is queued.
   *
   * @param entry An entry from {@linkcode ResourcePool.acquire} or the idle set.
   */
  destroy(entry: PoolEntry<R>): void {
    if (entry.leased) {
      this.#unlease(entry);
    } else {
      const idle = this.#idle[entry.partition];
      const at = idle.indexOf(entry);
      if (at < 0) return;
      idle.splice(at, 1);
      this.#idleCount--;
    }
    this.#drop(entry);
    if (this.#closed) this.#checkDrained();
    else this.#refill();
  }

  /**
   * The entries of the idle set, oldest first per partition (for sweeps).
   *
   * @returns A snapshot array.
   */
  idleEntries(): PoolEntry<R>[] {
    return this.#idle.flat();
  }

  /**
   * The gauges and counters.
   *
   * @returns A fresh snapshot.
   */
  stats(): ResourcePoolStats {
    return {
      total: this.#total,
      idle: this.#idleCount,
      leased: this.#leasedCount,
      waiting: this.#waiters.size,
      pending: this.#pending,
      acquired: this.#acquired,
      waited: this.#waiters.waited,
      timedOut: this.#waiters.timedOut,
      created: this.#created,
      createFailed: this.#createFailed,
      destroyed: this.#destroyed,
    };
  }

  /**
   * Closes the pool: rejects every waiter, destroys idle resources, waits up
   * to `graceMs` for leased ones to come back, then destroys those too.
   *
   * @param graceMs How long to wait for leased resources.
   * @returns When every resource is destroyed.
   */
  async close(graceMs: number): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#waiters.rejectAll(this.#opts.closedError());
      for (const list of this.#idle) {
        for (const entry of list.splice(0)) this.#drop(entry);
      }
      this.#idleCount = 0;
    }
    if (this.#leasedCount > 0 || this.#pending > 0) {
      let timer: TimerHandle;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = this.#opts.clock.setTimeout(resolve, graceMs);
      });
      this.#opts.clock.clearTimeout(timer);
      this.#drained = undefined;
      // Holders that did not come back in time lose their resources.
      for (const entry of [...this.#live]) {
        if (!entry.leased) continue;
        this.#unlease(entry);
        this.#drop(entry);
      }
    }
  }

  #lease(entry: PoolEntry<R>): PoolEntry<R> {
    this.#idleCount--;
    entry.leased = true;
    this.#leasedCount++;
    this.#acquired++;
    return entry;
  }

  #unlease(entry: PoolEntry<R>): void {
    entry.leased = false;
    this.#leasedCount--;
  }

  #popAnyIdle(skip: number): PoolEntry<R> | undefined {
    if (this.#idleCount === 0) return undefined;
    const lists = this.#idle;
    for (let i = 0; i < lists.length; i++) {
      if (i !== skip && lists[i].length > 0) return lists[i].pop();
    }
    return undefined;
  }

  #adopt(created: Created<R>): PoolEntry<R> {
    this.#created++;
    const now = this.#opts.clock.now();
    const entry: PoolEntry<R> = {
      resource: created.resource,
      partition: created.partition,
      createdAt: now,
      lastUsed: now,
      leased: false,
    };
    this.#live.add(entry);
    return entry;
  }

  // Hands an available entry to the oldest waiter, or parks it as idle.
  #offer(entry: PoolEntry<R>): void {
    if (this.#waiters.size > 0) {
      entry.leased = true;
      this.#leasedCount++;
      this.#acquired++;
      this.#waiters.resolveNext(entry);
      return;
    }
    this.#idle[entry.partition].push(entry);
    this.#idleCount++;
  }

  // A slot came free while callers queue: open a resource for the oldest one.
  #refill(partition = this.#opts.nextPartition()): void {
    if (this.#waiters.size === 0 || this.#total >= this.#opts.max) return;
    this.#total++;
    this.#pending++;
    this.#opts.create(partition).then(
      (created) => {
        this.#pending--;
        const entry = this.#adopt(created);
        if (this.#closed) {
          this.#drop(entry);
          this.#checkDrained();
        } else this.#offer(entry);
      },
      (err) => {
        this.#pending--;
        this.#total--;
        this.#createFailed++;
        if (this.#closed) return this.#checkDrained();
        this.#waiters.rejectNext(err);
        this.#refill();
      },
    );
  }

  #drop(entry: PoolEntry<R>): void {
    this.#live.delete(entry);
    this.#total--;
    this.#destroyed++;
    this.#opts.destroy(entry.resource, entry.partition);
  }

  #checkDrained(): void {
    if (this.#leasedCount === 0 && this.#pending === 0) this.#drained?.();
  }
}
