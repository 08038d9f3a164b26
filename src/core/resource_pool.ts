/**
 * A generic resource pool that knows nothing of SQL: acquire, release and
 * destroy over resources spread across partitions (for the PostgreSQL layer,
 * one partition per endpoint), with a FIFO of waiters, a size limit and stats.
 * The leasing is `PoolCore`'s (`pool_core.ts`); this file adds what manages
 * the pool as a whole: stats, close, resize, retire, and the link to a budget
 * shared with other isolates.
 *
 * @module
 */
import { waitAtMost } from "./clock.ts";
import { type AcquireOptions, PoolCore } from "./pool_core.ts";
import type {
  CoreDropReason,
  Created,
  PoolEntry,
  ResourcePoolOptions,
  ResourcePoolStats,
} from "./resource_pool_types.ts";

export type {
  AcquireOptions,
  CoreDropReason,
  Created,
  PoolEntry,
  ResourcePoolOptions,
  ResourcePoolStats,
};

/** The pool: {@linkcode PoolCore}'s leasing, plus stats, close, resize and retire. */
export class ResourcePool<R, Why extends string = CoreDropReason> extends PoolCore<R, Why> {
  /**
   * Builds an empty pool; it opens resources lazily.
   *
   * @param opts Limits and the owner's hooks.
   */
  constructor(opts: ResourcePoolOptions<R, Why>) {
    super(opts);
    this.budget?.attach({
      waiting: () => this.waiters.size - this.books.pending,
      held: () => this.books.total,
      opening: () => this.books.pending,
      refill: () => {
        for (let n = this.waiters.size - this.books.pending; n > 0; n--) {
          if (this.isClosed || !this.open(this.opts.nextPartition())) return;
        }
      },
      shed: () => {
        const entry = this.isClosed ? undefined : this.idle.popAny(-1);
        if (entry) this.drop(entry, "rebalanced");
        return entry !== undefined;
      },
    });
  }

  /** Whether {@linkcode ResourcePool.close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Every live entry, idle or leased (a snapshot, for the owner's sweeps).
   *
   * @returns A new array.
   */
  entries(): PoolEntry<R>[] {
    return [...this.books.live];
  }

  /**
   * The gauges and counters.
   *
   * @returns A fresh snapshot.
   */
  stats(): ResourcePoolStats {
    const { total, leased, pending, counts } = this.books;
    const { size: waiting, waited, timedOut, rejected } = this.waiters;
    const idle = this.idle.size;
    const max = this.max;
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
    if (!this.isClosed) {
      this.isClosed = true;
      this.waiters.rejectAll(this.opts.closedError());
      for (const entry of this.idle.clear()) this.drop(entry, "pool-ended");
    }
    if (this.books.leased > 0 || this.books.pending > 0) {
      await waitAtMost(this.opts.clock, graceMs, (done) => (this.drained = done));
      this.drained = undefined;
      // Holders that did not come back in time lose their resources.
      for (const entry of [...this.books.live]) {
        if (!entry.leased) continue;
        this.books.unlease(entry);
        this.drop(entry, "pool-ended");
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
    this.max = max;
    for (let e; this.books.total > max && (e = this.idle.popAny(-1));) {
      this.drop(e, "reconfigured");
    }
    const wanted = Math.min(this.waiters.size - this.books.pending, max - this.books.total);
    for (let n = wanted; n > 0; n--) this.open(this.opts.nextPartition());
  }

  /**
   * Retires the resources `which` selects: idle ones are destroyed now, leased
   * ones at release, and ones being opened now once they open (after one use).
   *
   * @param which Selects entries (for opens in flight, once they opened).
   */
  retire(which: (entry: PoolEntry<R>) => boolean): void {
    for (const entry of [...this.books.live]) {
      if (!which(entry)) continue;
      if (entry.leased) this.retirements.mark(entry);
      else if (this.idle.remove(entry)) this.drop(entry, "reconfigured");
    }
    this.retirements.order(which, this.books.pending > 0);
  }
}
