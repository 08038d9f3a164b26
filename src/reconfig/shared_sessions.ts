/**
 * Resize and retire for a pipelined group's shared sessions: a session
 * without holders closes now; one with holders takes no new ones and closes
 * when the last leaves (the group's `returned`).
 *
 * @module
 */
import type { Shared } from "../handler/shared_handler.ts";

/**
 * Retires the live sessions above `max`, those with the fewest holders first.
 *
 * @param list The group's sessions.
 * @param max The group's new size.
 * @param close Takes a session out of rotation and closes it.
 */
export function shrinkShared(
  list: readonly Shared[],
  max: number,
  close: (s: Shared) => void,
): void {
  const live = list.filter((s) => !s.retire && !s.connection.closed);
  live.sort((a, b) => a.holders - b.holders);
  for (const s of live.slice(0, Math.max(0, live.length - max))) retireOne(s, close);
}

/**
 * Retires the sessions whose endpoint `which` selects.
 *
 * @param list The group's sessions.
 * @param which Selects by endpoint index.
 * @param close Takes a session out of rotation and closes it.
 */
export function retireShared(
  list: readonly Shared[],
  which: (endpoint: number) => boolean,
  close: (s: Shared) => void,
): void {
  for (const s of [...list]) if (which(s.endpoint)) retireOne(s, close);
}

function retireOne(s: Shared, close: (s: Shared) => void): void {
  if (s.holders === 0) close(s);
  else s.retire = true;
}
