/**
 * What a pipelined group reports: its `stats()` in the shape of an exclusive
 * group's, and the one-line state its errors end with.
 *
 * @module
 */
import type { WaitList } from "../core/wait_list.ts";
import type { Shared } from "../handler/shared_handler.ts";
import type { GroupStats } from "../pool_types.ts";
import type { PipelinedSessions } from "./pipelined_sessions.ts";

/** A pipelined group's own counters. */
export interface PipelinedCounts {
  /** Handlers out. */
  readonly leased: number;
  /** Leases since the start. */
  readonly acquired: number;
}

/**
 * Gauges and counters: `total` are the sessions, `leased` the handlers out,
 * `acquired` the leases.
 *
 * @param sessions The group's sessions.
 * @param waiters Its callers waiting for a session.
 * @param counts Its handlers out and leases.
 * @returns A fresh snapshot.
 */
export function pipelinedStats(
  sessions: PipelinedSessions,
  waiters: WaitList<Shared>,
  counts: PipelinedCounts,
): GroupStats {
  return {
    max: sessions.max,
    total: sessions.held,
    idle: sessions.list.filter((s) => s.holders === 0 && !s.pinging).length,
    leased: counts.leased,
    waiting: waiters.size,
    pending: sessions.opening ? 1 : 0,
    waited: waiters.waited,
    timedOut: waiters.timedOut,
    rejected: waiters.rejected,
    acquired: counts.acquired,
    ...sessions.counts,
    ...sessions.obs.timings.snapshot(),
  };
}

/**
 * The group's state for error messages.
 *
 * @param list Its sessions.
 * @param leased Its handlers out.
 * @param waiting Its callers waiting.
 * @returns `total=…, leased=…, waiting=…`, and the sessions being pinged, if any.
 */
export function pipelinedState(list: readonly Shared[], leased: number, waiting: number): string {
  const pinging = list.filter((s) => s.pinging).length;
  const pinged = pinging > 0 ? `, pinged before use=${pinging}` : "";
  return `total=${list.length}, leased=${leased}, waiting=${waiting}${pinged}`;
}
