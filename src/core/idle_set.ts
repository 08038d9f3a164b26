/**
 * The idle resources of a pool, one stack per partition: the most recently
 * used is handed out first (it is the warmest, and the oldest ones age out).
 *
 * @module
 */
import type { PoolEntry } from "./resource_pool_types.ts";

/**
 * Idle entries per partition, with a running count so the common checks cost
 * nothing.
 *
 * @typeParam R The resource.
 */
export class IdleSet<R> {
  readonly #lists: PoolEntry<R>[][] = [];
  #size = 0;

  /**
   * Builds an empty set.
   *
   * @param partitions Number of partitions (≥ 1).
   */
  constructor(partitions: number) {
    for (let i = 0; i < partitions; i++) this.#lists.push([]);
  }

  /** Number of idle entries over all partitions. */
  get size(): number {
    return this.#size;
  }

  /**
   * Parks an entry on its partition.
   *
   * @param entry An entry that nobody holds.
   */
  push(entry: PoolEntry<R>): void {
    // Partitions may be added after construction (an endpoint list swapped in).
    (this.#lists[entry.partition] ??= []).push(entry);
    this.#size++;
  }

  /**
   * Takes the most recently parked entry of `partition`.
   *
   * @param partition The partition.
   * @returns An entry, or `undefined` when that partition has none.
   */
  pop(partition: number): PoolEntry<R> | undefined {
    const entry = this.#lists[partition]?.pop();
    if (entry) this.#size--;
    return entry;
  }

  /**
   * Takes an entry of any partition but `skip`.
   *
   * @param skip A partition already looked at (`-1`: none).
   * @returns An entry, or `undefined` when none is idle.
   */
  popAny(skip: number): PoolEntry<R> | undefined {
    if (this.#size === 0) return undefined;
    const lists = this.#lists;
    for (let i = 0; i < lists.length; i++) {
      if (i !== skip && lists[i]?.length > 0) return this.pop(i);
    }
    return undefined;
  }

  /**
   * Takes a given entry out.
   *
   * @param entry The entry.
   * @returns Whether it was idle here.
   */
  remove(entry: PoolEntry<R>): boolean {
    const list = this.#lists[entry.partition];
    const at = list ? list.indexOf(entry) : -1;
    if (at < 0) return false;
    list.splice(at, 1);
    this.#size--;
    return true;
  }

  /**
   * Every idle entry, oldest first per partition (a snapshot).
   *
   * @returns A new array.
   */
  entries(): PoolEntry<R>[] {
    return this.#lists.flat();
  }

  /**
   * Empties the set.
   *
   * @returns What it held.
   */
  clear(): PoolEntry<R>[] {
    const all = this.entries();
    for (const list of this.#lists) if (list) list.length = 0;
    this.#size = 0;
    return all;
  }
}
