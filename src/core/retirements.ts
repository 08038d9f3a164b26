/**
 * Retirements ordered by live reconfiguration (resize, drain, an endpoint
 * swap), as opposed to age: which entries they marked, so their close says
 * `"reconfigured"` rather than `"lifetime"`, and which of the resources being
 * opened at the last such order to retire once they open.
 *
 * @module
 */
import type { PoolEntry } from "./resource_pool_types.ts";

/** The retirements a resource pool was told of. */
export class Retirements<R> {
  readonly #marked = new WeakSet<PoolEntry<R>>();
  #opening: ((entry: PoolEntry<R>) => boolean) | undefined;
  #orders = 0;

  /**
   * How many orders were given so far; an open compares it before and after
   * to learn whether one came while it was in flight (a number: no closure per open).
   */
  get orders(): number {
    return this.#orders;
  }

  /**
   * Marks an entry to be retired at its release.
   *
   * @param entry A leased entry.
   */
  mark(entry: PoolEntry<R>): void {
    entry.retire = true;
    this.#marked.add(entry);
  }

  /**
   * Whether an entry was marked by an order (not retired by age).
   *
   * @param entry Any entry.
   * @returns `true` when {@linkcode Retirements.mark} marked it.
   */
  marked(entry: PoolEntry<R>): boolean {
    return this.#marked.has(entry);
  }

  /**
   * Records an order whose selector also applies to the resources being
   * opened now, combined with the earlier one while opens are still in flight.
   *
   * @param which Selects entries.
   * @param opening Whether resources are being opened now.
   */
  order(which: (entry: PoolEntry<R>) => boolean, opening: boolean): void {
    const before = opening ? this.#opening : undefined;
    this.#opening = before ? (e) => before(e) || which(e) : which;
    this.#orders++;
  }

  /**
   * A resource that opened: marked when an order given while it was opening selects it.
   *
   * @param entry The new entry.
   * @param ordersAtStart {@linkcode Retirements.orders} when its open began.
   */
  opened(entry: PoolEntry<R>, ordersAtStart: number): void {
    if (ordersAtStart !== this.#orders && this.#opening?.(entry)) this.mark(entry);
  }
}
