/**
 * Prepared-statement names of the node-postgres adapter: one stable name per
 * SQL text, shared by a driver's connections, bounded.
 *
 * Internal to the node-postgres adapter; not part of the public surface.
 *
 * @module
 */

/**
 * Stable statement names per text (`pgdbpool_1`, `pgdbpool_2`…), shared by a
 * driver's connections. Past `max` distinct texts, new texts get no name.
 */
export class StatementNames {
  readonly #names = new Map<string, string>();
  readonly #max: number;

  /** @param max Most distinct texts that get a name. */
  constructor(max: number) {
    this.#max = max;
  }

  /**
   * The name of `text`, or `undefined` when the limit is reached and it has none.
   *
   * @param text SQL text.
   * @returns Its statement name, given on first use.
   */
  of(text: string): string | undefined {
    let name = this.#names.get(text);
    if (name === undefined && this.#names.size < this.#max) {
      name = `pgdbpool_${this.#names.size + 1}`;
      this.#names.set(text, name);
    }
    return name;
  }
}
