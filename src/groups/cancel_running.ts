/**
 * Cancelling what a session the pool gives up on still runs: closing the
 * socket alone leaves the backend running it, locks held, until it next
 * writes. Fire and forget: the driver bounds the request (its connect
 * timeout) and closes the session only once it went through.
 *
 * @module
 */
import type { DriverConnection } from "../driver.ts";
import { isTransactionPooled } from "../endpoints/transaction_pooler.ts";

/**
 * Asks the server to cancel what `conn` runs, unless `conn` goes through a
 * transaction-mode pooler: it may hand the server session to another client
 * first (PgBouncer before 1.18 then cancelled that client's query).
 *
 * @param conn A session the pool is closing, with a statement in flight.
 */
export function cancelRunning(conn: DriverConnection): void {
  if (isTransactionPooled(conn)) return;
  try {
    conn.cancel?.().catch(() => {});
  } catch { /* another driver's throw: the session is closed anyway */ }
}
