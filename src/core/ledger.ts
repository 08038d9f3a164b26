/**
 * The books of a resource pool: every live entry, the gauges (total, leased,
 * pending) and the counters, kept apart from the pool's policy so that
 * `stats()` is one read of one object.
 *
 * @module
 */
import type { Created, PoolEntry } from "./resource_pool_types.ts";
import { freshProgress, retireAt } from "./housekeeper.ts";

/**
 * Counts and the set of live entries. The set changes only on create and
 * drop, never per lease: a lease moves a flag and a count.
 *
 * @typeParam R The resource.
 */
export class Ledger<R> {
  /** Every entry open, idle or leased. */
  readonly live: Set<PoolEntry<R>> = new Set();
  /** Entries open or being opened. */
  total = 0;
  /** Entries held by callers. */
  leased = 0;
  /** Entries being opened. */
  pending = 0;
  /** Counters since the start. */
  readonly counts = { acquired: 0, created: 0, createFailed: 0, destroyed: 0 };

  /** Counts an entry being opened. */
  opening(): void {
    this.total++;
    this.pending++;
  }

  /**
   * Records an opened resource as a new idle entry.
   *
   * @param created The resource and its partition.
   * @param now Clock time.
   * @param lifetimeMs Its lifetime (0: unlimited), jittered down by up to 10%.
   * @returns Its entry.
   */
  opened(created: Created<R>, now: number, lifetimeMs: number): PoolEntry<R> {
    this.pending--;
    this.counts.created++;
    const { resource, partition } = created;
    const expiresAt = retireAt(now, lifetimeMs);
    const entry = {
      resource,
      partition,
      createdAt: now,
      lastUsed: now,
      leased: false,
      retire: false,
      expiresAt,
      busyAt: now,
      owned: undefined,
      ...freshProgress(now),
    };
    this.live.add(entry);
    return entry;
  }

  /** Records a failed opening. */
  failed(): void {
    this.pending--;
    this.total--;
    this.counts.createFailed++;
  }

  /**
   * Marks an entry as held.
   *
   * @param entry The entry.
   * @returns The same entry.
   */
  lease(entry: PoolEntry<R>): PoolEntry<R> {
    entry.leased = true;
    this.leased++;
    this.counts.acquired++;
    return entry;
  }

  /**
   * Marks an entry as no longer held.
   *
   * @param entry The entry.
   */
  unlease(entry: PoolEntry<R>): void {
    entry.leased = false;
    this.leased--;
  }

  /**
   * Forgets an entry for good.
   *
   * @param entry The entry (not leased).
   */
  drop(entry: PoolEntry<R>): void {
    this.live.delete(entry);
    this.total--;
    this.counts.destroyed++;
  }
}
