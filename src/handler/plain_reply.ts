/**
 * The two callbacks that settle a session's statements with nothing to
 * track (most statements): counted answered, a failure translated. Made once
 * per session, instead of two closures per query.
 *
 * @module
 */
import type { PoolEntry } from "../core/resource_pool.ts";
import type { DriverConnection, DriverResult } from "../driver.ts";
import type { Lease, LeaseFields } from "./session_lease.ts";

/** The callbacks of a reply that needs no tracking, one pair per session. */
export interface PlainReply {
  holder: LeaseFields | undefined;
  ok(result: DriverResult): DriverResult;
  failed(err: unknown): never;
}

// Kept in the session's entry. One handler holds a session at a time, and release waits
// for its replies, so a reply's holder is the current one; it is let go once nothing is
// in flight (the entry must not keep a released handler alive).
/**
 * The session's pair of reply callbacks, made at its first plain statement.
 *
 * @param entry The session's entry (it keeps the pair).
 * @returns The pair; set its `holder` before each statement.
 */
export function plainReplyOf(entry: PoolEntry<DriverConnection>): PlainReply {
  const known = entry.owned as PlainReply | undefined;
  if (known !== undefined) return known;
  const plain: PlainReply = {
    holder: undefined,
    ok: (result) => {
      const h = plain.holder as Lease;
      if (entry.busy === 1) plain.holder = undefined;
      h.answered();
      return result;
    },
    failed: (err) => {
      const h = plain.holder as Lease;
      if (entry.busy === 1) plain.holder = undefined;
      const failure = h.failure(err);
      h.answered();
      throw failure;
    },
  };
  entry.owned = plain;
  return plain;
}
