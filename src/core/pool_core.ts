/**
 * The leasing side of the generic resource pool: acquire, replace, release
 * and destroy, and opening resources for whoever waits. What manages the pool
 * as a whole (stats, close, resize, retire, a budget shared with other
 * isolates) is `ResourcePool`'s, in `resource_pool.ts`.
 *
 * Lease is synchronous when an idle resource is at hand: no promise, no timer.
 *
 * @module
 */
import { IdleSet } from "./idle_set.ts";
import { Ledger } from "./ledger.ts";
import { Retirements } from "./retirements.ts";
import { type WaitContinuation, WaitList, type WaitOptions } from "./wait_list.ts";
import type {
  Budget,
  CoreDropReason,
  PoolEntry,
  ResourcePoolOptions,
} from "./resource_pool_types.ts";

/** Per-acquire options: the timeout and abort signal of the wait. */
export type AcquireOptions = WaitOptions;

/**
 * The pool's state and its leasing. A resource being opened belongs to no
 * caller (puddle's way): it goes to whoever is first in line when it is
 * ready, and a caller takes whichever comes first, a new resource or a
 * released one.
 */
export class PoolCore<R, Why extends string = CoreDropReason> {
  protected readonly opts: ResourcePoolOptions<R, Why>;
  protected readonly idle: IdleSet<R>;
  // FIFO of callers, with one timer for the whole queue.
  protected readonly waiters: WaitList<PoolEntry<R>>;
  protected readonly books: Ledger<R> = new Ledger<R>();
  protected isClosed = false;
  protected drained: (() => void) | undefined;
  protected max: number;
  protected readonly retirements: Retirements<R> = new Retirements<R>();
  // Undefined unless shared with other isolates: the only cost to others is that check.
  protected readonly budget: Budget | undefined;

  /**
   * Builds an empty pool; it opens resources lazily.
   *
   * @param opts Limits and the owner's hooks.
   */
  constructor(opts: ResourcePoolOptions<R, Why>) {
    this.opts = opts;
    this.max = opts.max;
    // Through `opts`: the owner's hook may use `this`.
    this.waiters = new WaitList(
      opts.clock,
      (ms) => opts.timeoutError(ms),
      opts.maxWaiting,
      opts.overloadedError,
    );
    this.idle = new IdleSet(opts.partitions);
    this.budget = opts.budget;
  }

  /**
   * Leases a resource: an idle one on the next partition in rotation; else
   * any idle one (opening one more on that partition in the background while
   * under `max`); else waits in FIFO order for a new or a released one.
   *
   * @param options Timeout and abort signal for the wait.
   * @param front Whether to wait ahead of every queued caller: `true`, or a rank among
   *   such callers (see {@linkcode WaitList.wait}).
   * @param then For a caller that waits: what the entry goes through when served
   *   (one promise per wait instead of one per step).
   * @param arg Passed to `then`.
   * @returns The entry, synchronously when one was idle; else `then`'s outcome.
   * @throws The closed error when the pool is closed.
   */
  acquire<U = PoolEntry<R>>(
    options: AcquireOptions,
    front: boolean | number = false,
    then?: WaitContinuation<PoolEntry<R>, U>,
    arg?: unknown,
  ): PoolEntry<R> | Promise<U> {
    if (this.isClosed) throw this.opts.closedError();
    const partition = this.opts.nextPartition();
    const underMax = this.books.total < this.max;
    if (partition >= 0) {
      const entry = this.idle.pop(partition);
      if (entry) return this.books.lease(entry);
    }
    const other = this.idle.popAny(partition);
    if (other) {
      // Serve now from another partition; the rotation's one opens meanwhile.
      if (underMax && partition >= 0 && this.books.pending === 0) this.open(partition);
      return this.books.lease(other);
    }
    const waiting = this.waiters.wait(options, front, !underMax, then, arg);
    if (underMax) this.open(partition);
    return waiting;
  }

  /**
   * Drops a leased resource found unusable (dead, failed its ping) and leases
   * another for the same caller, ahead of every queued waiter.
   *
   * @param entry The leased entry to drop.
   * @param options The caller's timeout and signal.
   * @param reason Why it is dropped.
   * @param rank The caller's place among callers sent back (lower first); omitted: first.
   * @returns Another entry.
   */
  replace(
    entry: PoolEntry<R>,
    options: AcquireOptions,
    reason: Why | CoreDropReason = "broken",
    rank: number | true = true,
  ): PoolEntry<R> | Promise<PoolEntry<R>> {
    if (entry.leased) {
      this.books.unlease(entry);
      this.drop(entry, reason);
    }
    return this.acquire(options, rank);
  }

  /**
   * Passes a leased entry on to the first waiter when it ranks before `rank`
   * (an older caller sent back to wait); the entry stays leased.
   *
   * @param entry The entry its holder gives up.
   * @param rank The holder's rank.
   * @returns Whether the waiter took it (the holder has it no longer).
   */
  handOver(entry: PoolEntry<R>, rank: number): boolean {
    if (this.waiters.firstRank >= rank) return false;
    return this.waiters.resolveNext(entry);
  }

  /**
   * Returns a healthy resource to the pool (or straight to the oldest
   * waiter); one past its lifetime is destroyed instead.
   *
   * @param entry An entry from {@linkcode PoolCore.acquire}.
   */
  release(entry: PoolEntry<R>): void {
    if (!entry.leased) return;
    if (entry.retire || this.books.total > this.max) {
      return this.destroy(
        entry,
        entry.retire && !this.retirements.marked(entry) ? "lifetime" : "reconfigured",
      );
    }
    // A caller in another isolate waits for this slot.
    if (this.budget !== undefined && this.budget.yields()) {
      return this.destroy(entry, "rebalanced");
    }
    this.books.unlease(entry);
    if (this.isClosed) {
      this.drop(entry, "pool-ended");
      this.checkDrained();
      return;
    }
    this.offer(entry);
  }

  /**
   * Destroys a resource (broken, or leased and no longer wanted); its slot is
   * refilled for a waiter if one is queued.
   *
   * @param entry An entry from {@linkcode PoolCore.acquire} or the idle set.
   * @param reason Why.
   */
  destroy(entry: PoolEntry<R>, reason: Why | CoreDropReason = "broken"): void {
    if (entry.leased) this.books.unlease(entry);
    else if (!this.idle.remove(entry)) return;
    this.drop(entry, reason);
    if (this.isClosed) this.checkDrained();
    else if (this.waiters.size > 0) this.open(this.opts.nextPartition());
  }

  /** Hands an available entry to the oldest waiter, or parks it as idle. */
  protected offer(entry: PoolEntry<R>): void {
    if (this.waiters.size > 0) this.waiters.resolveNext(this.books.lease(entry));
    else this.idle.push(entry);
  }

  /** Opens one resource for whoever is first in line when it is ready; `false`: no room. */
  protected open(partition: number): boolean {
    const books = this.books;
    if (books.total >= this.max) return false;
    if (this.budget !== undefined && !this.budget.tryTake()) return false;
    books.opening();
    const orders = this.retirements.orders;
    this.opts.create(partition).then((created) => {
      const entry = books.opened(created, this.opts.clock.now(), this.opts.maxLifetimeMs ?? 0);
      this.retirements.opened(entry, orders);
      if (!this.isClosed) return this.offer(entry);
      this.drop(entry, "pool-ended");
      this.checkDrained();
    }, (err) => {
      books.failed();
      this.budget?.give();
      if (this.isClosed) return this.checkDrained();
      if (this.waiters.size === 0) return;
      // Waiters may stay in line while a leased or opening resource can still
      // serve them; else the oldest learns why, and the next one tries again.
      const live = books.leased > 0 || books.pending > 0;
      if (live && this.opts.keepsWaiting?.(err)) return;
      this.waiters.rejectNext(err);
      if (this.waiters.size > 0) this.open(this.opts.nextPartition());
    });
    return true;
  }

  /** Forgets an entry and destroys its resource. */
  protected drop(entry: PoolEntry<R>, reason: Why | CoreDropReason): void {
    this.books.drop(entry);
    const gone = this.opts.destroy(entry.resource, entry.partition, reason);
    this.budget?.give(gone);
  }

  /** Ends `close()`'s grace period once nothing is leased or opening. */
  protected checkDrained(): void {
    if (this.books.leased === 0 && this.books.pending === 0) this.drained?.();
  }
}
