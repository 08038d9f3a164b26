/**
 * Isolate rows: each isolate that uses a shared pool owns one row, stamped
 * with a token, and writes a heartbeat into it. A row whose heartbeat is
 * older than the bound is reclaimed by any other isolate: the owner word is
 * swapped once (so one reclaimer wins), its slots and its place in every
 * group's line are returned, and the row is free again. `Worker.terminate()`
 * runs nothing in the Worker, so this is how a dead isolate's share comes back.
 *
 * @module
 */
import { EVENTS, type Memory, NEXT_TOKEN } from "./memory.ts";
import { clearSlots, emptyRow } from "./slots.ts";
import { leaveLine } from "./line.ts";

/** A row and the token that proves it is still the caller's. */
export interface Row {
  /** Row index. */
  readonly row: number;
  /** Owner token, 1..65535. */
  readonly token: number;
}

const RECLAIMING = -1;

/**
 * Claims a free row, stamped with a fresh token and a heartbeat.
 *
 * @param m The shared memory.
 * @param now Shared time, in ms.
 * @returns The row, or `undefined` when every row is taken.
 */
export function claimRow(m: Memory, now: number): Row | undefined {
  const { i32 } = m;
  const token = (Atomics.add(i32, NEXT_TOKEN, 1) % 0xffff) + 1;
  for (let row = 0; row < m.rows; row++) {
    if (Atomics.compareExchange(i32, m.owner(row), 0, RECLAIMING) !== 0) continue;
    // Held as "reclaiming" while the row is made ready: nobody reclaims it half-built.
    Atomics.store(m.i64, m.beat(row), BigInt(now));
    for (let g = 0; g < m.groups; g++) {
      Atomics.store(i32, m.slots(g, row), emptyRow(token));
      leaveLine(m, g, row);
    }
    Atomics.store(i32, m.owner(row), token);
    return { row, token };
  }
  return undefined;
}

/**
 * Whether `row` is still owned by the caller.
 *
 * @param m The shared memory.
 * @param r The caller's row.
 * @returns `false` once another isolate reclaimed it.
 */
export function owns(m: Memory, r: Row): boolean {
  return Atomics.load(m.i32, m.owner(r.row)) === r.token;
}

/**
 * Writes the owner's heartbeat.
 *
 * @param m The shared memory.
 * @param r The caller's row.
 * @param now Shared time, in ms.
 * @returns `false` when the row is no longer the caller's.
 */
export function beat(m: Memory, r: Row, now: number): boolean {
  if (!owns(m, r)) return false;
  Atomics.store(m.i64, m.beat(r.row), BigInt(now));
  return true;
}

/**
 * Frees a row owned by `token`: its slots and places in line are returned,
 * exactly once whoever calls (the owner at `end()`, or a reclaimer).
 *
 * @param m The shared memory.
 * @param row The row.
 * @param token The owner token the caller saw.
 * @returns Whether this call freed it.
 */
export function freeRow(m: Memory, row: number, token: number): boolean {
  const { i32 } = m;
  if (Atomics.compareExchange(i32, m.owner(row), token, RECLAIMING) !== token) return false;
  for (let g = 0; g < m.groups; g++) {
    clearSlots(m, g, row, token);
    leaveLine(m, g, row);
  }
  Atomics.store(i32, m.owner(row), 0);
  Atomics.add(i32, EVENTS, 1);
  Atomics.notify(i32, EVENTS);
  return true;
}

/**
 * Reclaims every row other than the caller's whose heartbeat is older than
 * `staleMs`.
 *
 * @param m The shared memory.
 * @param self The caller's row (never reclaimed here).
 * @param now Shared time, in ms.
 * @param staleMs The bound.
 * @returns How many rows this call reclaimed.
 */
export function reclaimStale(m: Memory, self: number, now: number, staleMs: number): number {
  let reclaimed = 0;
  for (let row = 0; row < m.rows; row++) {
    const token = Atomics.load(m.i32, m.owner(row));
    if (row === self || token <= 0) continue;
    const last = Number(Atomics.load(m.i64, m.beat(row)));
    if (now - last > staleMs && freeRow(m, row, token)) reclaimed++;
  }
  return reclaimed;
}

/**
 * Rows owned by a live (not yet reclaimed) isolate.
 *
 * @param m The shared memory.
 * @returns The count.
 */
export function liveRows(m: Memory): number {
  let n = 0;
  for (let row = 0; row < m.rows; row++) if (Atomics.load(m.i32, m.owner(row)) > 0) n++;
  return n;
}
