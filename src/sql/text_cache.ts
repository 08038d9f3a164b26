/**
 * A bounded cache keyed by query text, for what is worked out once per text
 * (the verdict of `readSql`, a pyformat translation): the hot path pays one
 * `Map` lookup, and texts that are mostly literals cannot make it grow
 * without bound.
 *
 * @module
 */

// Bounds on what is remembered: query texts are mostly literals, but not all.
const CACHE_ENTRIES = 2000;
const CACHE_TEXT_CHARS = 16_384;
const CACHE_TOTAL_CHARS = 2_000_000;

/** What is known of each text seen lately: at most 2000 texts and 2 M characters. */
export class TextCache<V> {
  readonly #map = new Map<string, V>();
  #chars = 0;

  /**
   * What is kept for `text`.
   *
   * @param text The query text.
   * @returns The value, or `undefined` when it is not kept.
   */
  get(text: string): V | undefined {
    return this.#map.get(text);
  }

  /**
   * Keeps `value` for `text`, unless the text is too long to keep (16 K characters).
   *
   * @param text The query text.
   * @param value What it gives.
   */
  set(text: string, value: V): void {
    if (text.length > CACHE_TEXT_CHARS) return;
    // Clear rather than evict the oldest: deleting from a Map's front leaves holes that
    // every later keys().next() walks over. The hot texts come back at once.
    if (this.#map.size >= CACHE_ENTRIES || this.#chars + text.length > CACHE_TOTAL_CHARS) {
      this.#map.clear();
      this.#chars = 0;
    }
    this.#map.set(text, value);
    this.#chars += text.length;
  }
}
