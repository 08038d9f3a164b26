/**
 * A generic resource pool that knows nothing of SQL: acquire, release and
 * destroy over resources spread across partitions (for the PostgreSQL layer,
 * one partition per endpoint), with a FIFO of waiters, a size limit and stats.
 *
 * Lease is synchronous when an idle resource is at hand: no promise, no timer.
 *
 * @module
 */
import { waitAtMost } from "./clock.ts";
import { IdleSet } from "./idle_set.ts";
import { Ledger } from "./ledger.ts";
import { Retirements } from "./retirements.ts";
import { type WaitContinuation, WaitList, type WaitOptions } from "./wait_list.ts";
import type {
  Budget,
  CoreDropReason,
  Created,
  PoolEntry,
  ResourcePoolOptions,
  ResourcePoolStats,
} from "./resource_pool_types.ts";

export type { CoreDropReason, Created, PoolEntry, ResourcePoolOptions, ResourcePoolStats };

/** Per-acquire options: the timeout and abort signal of the wait. */
export type AcquireOptions = WaitOptions;

/**
 * The pool. A resource being opened belongs to no caller (puddle's way): it
 * goes to whoever is first in line when it is ready, and a caller takes
 * whichever comes first, a new resource or a released one.
 */
export class ResourcePool<R, Why extends string = CoreDropReason> {
  readonly #opts: ResourcePoolOptions<R, Why>;
  readonly #idle: IdleSet<R>;
  // FIFO of callers, with one timer for the whole queue.
  readonly #waiters: WaitList<PoolEntry<R>>;
  readonly #books = new Ledger<R>();
  #closed = false;
  #drained: (() => void) | undefined;
  #max: number;
  readonly #retirements = new Retirements<R>();
  // Undefined unless shared with other isolates: the only cost to others is that check.
  readonly #budget: Budget | undefined;

  /**
   * Builds an empty pool; it opens resources lazily.
   *
   * @param opts Limits and the owner's hooks.
   */
  constructor(opts: ResourcePoolOptions<R, Why>) {
    this.#opts = opts;
    this.#max = opts.max;
    // Through `opts`: the owner's hook may use `this`.
    this.#waiters = new WaitList(
      opts.clock,
      (ms) => opts.timeoutError(ms),
      opts.maxWaiting,
      opts.overloadedError,
    );
    this.#idle = new IdleSet(opts.partitions);
    this.#budget = opts.budget;
    this.#budget?.attach({
      waiting: () => this.#waiters.size - this.#books.pending,
      held: () => this.#books.total,
      opening: () => this.#books.pending,
      refill: () => {
        for (let n = this.#waiters.size - this.#books.pending; n > 0; n--) {
          if (this.#closed || !this.#open(this.#opts.nextPartition())) return;
        }
      },
      shed: () => {
        const entry = this.#closed ? undefined : this.#idle.popAny(-1);
        if (entry) this.#drop(entry, "rebalanced");
        return entry !== undefined;
      },
    });
  }

  /** Whether {@linkcode ResourcePool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Leases a resource: an idle one on the next partition in rotation; else
   * any idle one (opening one more on that partition in the background while
   * under `max`); else waits in FIFO order for a new or a released one.
   *
   * @param options Timeout and abort signal for the wait.
   * @param front Whether to wait ahead of every queued caller.
   * @param then For a caller that waits: what the entry goes through when served
   *   (one promise per wait instead of one per step).
   * @param arg Passed to `then`.
   * @returns The entry, synchronously when one was idle; else `then`'s outcome.
   * @throws The closed error when the pool is closed.
   */
  acquire<U = PoolEntry<R>>(
    options: AcquireOptions,
    front = false,
    then?: WaitContinuation<PoolEntry<R>, U>,
    arg?: unknown,
  ): PoolEntry<R> | Promise<U> {
    if (this.#closed) throw this.#opts.closedError();
    const partition = this.#opts.nextPartition();
    const underMax = this.#books.total < this.#max;
    if (partition >= 0) {
      const entry = this.#idle.pop(partition);
      if (entry) return this.#books.lease(entry);
    }
    const other = this.#idle.popAny(partition);
    if (other) {
      // Serve now from another partition; the rotation's one opens meanwhile.
      if (underMax && partition >= 0 && this.#books.pending === 0) this.#open(partition);
      return this.#books.lease(other);
    }
    const waiting = this.#waiters.wait(options, front, !underMax, then, arg);
    if (underMax) this.#open(partition);
    return waiting;
  }

  /**
   * Drops a leased resource found unusable (dead, failed its ping) and leases
   * another for the same caller, ahead of every queued waiter.
   *
   * @param entry The leased entry to drop.
   * @param options The caller's timeout and signal.
   * @param reason Why it is dropped.
   * @returns Another entry.
   */
  replace(
    entry: PoolEntry<R>,
    options: AcquireOptions,
    reason: Why | CoreDropReason = "broken",
  ): PoolEntry<R> | Promise<PoolEntry<R>> {
    if (entry.leased) {
      this.#books.unlease(entry);
      this.#drop(entry, reason);
    }
    return this.acquire(options, true);
  }

  /**
   * Returns a healthy resource to the pool (or straight to the oldest
   * waiter); one past its lifetime is destroyed instead.
   *
   * @param entry An entry from {@linkcode ResourcePool.acquire}.
   */
  release(entry: PoolEntry<R>): void {
    if (!entry.leased) return;
    if (entry.retire || this.#books.total > this.#max) {
      return this.destroy(
        entry,
        entry.retire && !this.#retirements.marked(entry) ? "lifetime" : "reconfigured",
      );
    }
    // A caller in another isolate waits for this slot.
    if (this.#budget !== undefined && this.#budget.yields()) {
      return this.destroy(entry, "rebalanced");
    }
    this.#books.unlease(entry);
    if (this.#closed) {
      this.#drop(entry, "pool-ended");
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
   * @param reason Why.
   */
  destroy(entry: PoolEntry<R>, reason: Why | CoreDropReason = "broken"): void {
    if (entry.leased) this.#books.unlease(entry);
    else if (!this.#idle.remove(entry)) return;
    this.#drop(entry, reason);
    if (this.#closed) this.#checkDrained();
    else if (this.#waiters.size > 0) this.#open(this.#opts.nextPartition());
  }

  /**
   * Every live entry, idle or leased (a snapshot, for the owner's sweeps).
   *
   * @returns A new array.
   */
  entries(): PoolEntry<R>[] {
    return [...this.#books.live];
  }

  /**
   * The gauges and counters.
   *
   * @returns A fresh snapshot.
   */
  stats(): ResourcePoolStats {
    const { total, leased, pending, counts } = this.#books;
    const { size: waiting, waited, timedOut, rejected } = this.#waiters;
    const idle = this.#idle.size;
    const max = this.#max;
    return { max, total, idle, leased, waiting, pending, waited, timedOut, rejected, ...counts };
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
      for (const entry of this.#idle.clear()) this.#drop(entry, "pool-ended");
    }
    if (this.#books.leased > 0 || this.#books.pending > 0) {
      await waitAtMost(this.#opts.clock, graceMs, (done) => (this.#drained = done));
      this.#drained = undefined;
      // Holders that did not come back in time lose their resources.
      for (const entry of [...this.#books.live]) {
        if (!entry.leased) continue;
        this.#books.unlease(entry);
        this.#drop(entry, "pool-ended");
      }
    }
  }

  /**
   * Sets the most resources open at once. Growing opens resources for queued
   * callers now; shrinking destroys idle ones above the new size now, and
   * released ones while the pool is above it.
   *
   * @param max The new limit (≥ 1).
   */
  resize(max: number): void {
    this.#max = max;
    for (let e; this.#books.total > max && (e = this.#idle.popAny(-1));) {
      this.#drop(e, "reconfigured");
    }
    const wanted = Math.min(this.#waiters.size - this.#books.pending, max - this.#books.total);
    for (let n = wanted; n > 0; n--) this.#open(this.#opts.nextPartition());
  }

  /**
   * Retires the resources `which` selects: idle ones are destroyed now, leased
   * ones at release, and ones being opened now once they open (after one use).
   *
   * @param which Selects entries (for opens in flight, once they opened).
   */
  retire(which: (entry: PoolEntry<R>) => boolean): void {
    for (const entry of [...this.#books.live]) {
      if (!which(entry)) continue;
      if (entry.leased) this.#retirements.mark(entry);
      else if (this.#idle.remove(entry)) this.#drop(entry, "reconfigured");
    }
    this.#retirements.order(which, this.#books.pending > 0);
  }

  // Hands an available entry to the oldest waiter, or parks it as idle.
  #offer(entry: PoolEntry<R>): void {
    if (this.#waiters.size > 0) this.#waiters.resolveNext(this.#books.lease(entry));
    else this.#idle.push(entry);
  }

  // Opens one resource for whoever is first in line when it is ready.
  #open(partition: number): boolean {
    const books = this.#books;
    if (books.total >= this.#max) return false;
    if (this.#budget !== undefined && !this.#budget.tryTake()) return false;
    books.opening();
    const orders = this.#retirements.orders;
    this.#opts.create(partition).then((created) => {
      const entry = books.opened(created, this.#opts.clock.now(), this.#opts.maxLifetimeMs ?? 0);
      this.#retirements.opened(entry, orders);
      if (!this.#closed) return this.#offer(entry);
      this.#drop(entry, "pool-ended");
      this.#checkDrained();
    }, (err) => {
      books.failed();
      this.#budget?.give();
      if (this.#closed) return this.#checkDrained();
      if (this.#waiters.size === 0) return;
      // Waiters may stay in line while a leased or opening resource can still
      // serve them; else the oldest learns why, and the next one tries again.
      const live = books.leased > 0 || books.pending > 0;
      if (live && this.#opts.keepsWaiting?.(err)) return;
      this.#waiters.rejectNext(err);
      if (this.#waiters.size > 0) this.#open(this.#opts.nextPartition());
    });
    return true;
  }

  #drop(entry: PoolEntry<R>, reason: Why | CoreDropReason): void {
    this.#books.drop(entry);
    const gone = this.#opts.destroy(entry.resource, entry.partition, reason);
    this.#budget?.give(gone);
  }

  #checkDrained(): void {
    if (this.#books.leased === 0 && this.#books.pending === 0) this.#drained?.();
  }
}
