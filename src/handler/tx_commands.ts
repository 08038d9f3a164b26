/**
 * COMMIT and ROLLBACK on a session, with the outcome told truthfully: a
 * commit whose answer never came is unknown, a commit the server turned into
 * a rollback is a failure, a rollback on a lost session happened anyway.
 *
 * @module
 */
import type { DriverConnection } from "../driver.ts";
import { CommitUnknownError, ConnectionError, QueryError } from "../errors.ts";
import { queryFailure } from "./failures.ts";

/**
 * Sends COMMIT.
 *
 * @param conn The session.
 * @param label Its endpoint's label.
 * @param counts Counts the commits that went through, or may have (unknown outcome).
 * @throws {ConnectionError} Nothing was committed: the session was lost before COMMIT.
 * @throws {CommitUnknownError} The session was lost with COMMIT in flight.
 * @throws {QueryError} COMMIT failed, or the transaction had failed (25P02).
 */
export async function commitOn(
  conn: DriverConnection,
  label: string,
  counts: { commitsSent: number },
): Promise<void> {
  if (conn.closed) throw lostBeforeCommit(label);
  let command: string;
  try {
    command = (await conn.query("COMMIT")).command;
  } catch (err) {
    if (!conn.closed) throw queryFailure(err);
    counts.commitsSent++;
    throw new CommitUnknownError(label, { cause: err });
  }
  if (command === "ROLLBACK") {
    throw new QueryError(
      "Cannot commit: a statement in the transaction failed, so the server rolled it back",
      { code: "25P02" },
    );
  }
  counts.commitsSent++;
}

/**
 * The error for a commit of a transaction whose session was lost before COMMIT.
 *
 * @param label The endpoint's label.
 * @returns A `ConnectionError` saying nothing was committed.
 */
export function lostBeforeCommit(label: string): ConnectionError {
  return new ConnectionError(
    `Cannot commit on ${label}: the connection was lost before COMMIT; nothing was committed`,
    label,
  );
}

/**
 * Sends ROLLBACK. A lost session is rolled back by the server: not an error.
 *
 * @param conn The session.
 * @throws {QueryError} ROLLBACK failed on a live session.
 */
export async function rollbackOn(conn: DriverConnection): Promise<void> {
  try {
    await conn.query("ROLLBACK");
  } catch (err) {
    if (!conn.closed) throw queryFailure(err);
  }
}
