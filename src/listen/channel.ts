/**
 * A `LISTEN` channel name, checked and quoted as an identifier: the name is
 * never spliced into SQL as it was given.
 *
 * @module
 */

// PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes: a longer name
// would listen on its truncation and miss a NOTIFY that names it in full.
const MAX_BYTES = 63;
const UTF8 = new TextEncoder();

/**
 * Checks a channel name and quotes it as an identifier (`"name"`, with `"`
 * doubled), so any name — mixed case, spaces, quotes — means itself.
 *
 * @param channel The channel name, as NOTIFY will name it.
 * @returns The quoted identifier.
 * @throws {TypeError} Not a string, empty, or holding a NUL character.
 * @throws {RangeError} Longer than 63 bytes in UTF-8.
 */
export function quoteChannel(channel: unknown): string {
  if (typeof channel !== "string" || channel === "" || channel.includes("\0")) {
    throw new TypeError(
      `Invalid channel: expected a non-empty string without NUL characters, received ${
        typeof channel === "string" ? JSON.stringify(channel) : typeof channel
      }`,
    );
  }
  const bytes = UTF8.encode(channel).length;
  if (bytes > MAX_BYTES) {
    throw new RangeError(
      `Invalid channel: at most ${MAX_BYTES} bytes (PostgreSQL truncates longer names), received ${bytes}`,
    );
  }
  return `"${channel.replaceAll('"', '""')}"`;
}
