/**
 * The line of isolates waiting for a slot of one group. A row that has
 * callers waiting because the budget is spent stamps the time it joined; a
 * freed slot goes to the row that has waited longest, which then goes to the
 * back of the line if it still has callers waiting. That rotation is what
 * keeps one busy isolate from starving the others.
 *
 * @module
 */
import type { Memory } from "./memory.ts";
import { slotsOf } from "./slots.ts";

/**
 * Puts `row` in line for group `g` (or back to its end).
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The row.
 * @param now Shared time, in ms.
 */
export function joinLine(m: Memory, g: number, row: number, now: number): void {
  const old = Atomics.exchange(m.i64, m.since(g, row), BigInt(Math.max(1, now)));
  if (old === 0n) Atomics.add(m.i32, m.demanders(g), 1);
}

/**
 * Takes `row` out of the line of group `g` (its callers are served or gone).
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The row.
 * @returns Whether it was in line.
 */
export function leaveLine(m: Memory, g: number, row: number): boolean {
  const old = Atomics.exchange(m.i64, m.since(g, row), 0n);
  if (old !== 0n) Atomics.sub(m.i32, m.demanders(g), 1);
  return old !== 0n;
}

/**
 * Rows in line for group `g`.
 *
 * @param m The shared memory.
 * @param g Group index.
 * @returns The count.
 */
export function inLine(m: Memory, g: number): number {
  return Atomics.load(m.i32, m.demanders(g));
}

/**
 * Whether `row` is first in line for group `g`: no other row below `cap`
 * slots has waited longer (ties go to the lower row); rows at their cap take
 * nothing, so they hold nobody up. A row not in line is first only when
 * nobody is.
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The row.
 * @param cap Slots from which a row takes no more while others wait.
 * @returns Whether a free slot is `row`'s to take.
 */
export function firstInLine(m: Memory, g: number, row: number, cap = Infinity): boolean {
  const { i64 } = m;
  const mine = Atomics.load(i64, m.since(g, row));
  for (let r = 0; r < m.rows; r++) {
    if (r === row) continue;
    const s = Atomics.load(i64, m.since(g, r));
    if (s === 0n || slotsOf(m, g, r) >= cap) continue;
    if (mine === 0n || s < mine || (s === mine && r < row)) return false;
  }
  return true;
}

/**
 * Whether a row other than `row` is in line for group `g` with fewer than
 * `cap` slots: someone a slot given up now would serve.
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The asking row.
 * @param cap Slots from which a row takes no more while others wait.
 * @returns Whether such a row waits.
 */
export function othersWait(m: Memory, g: number, row: number, cap: number): boolean {
  for (let r = 0; r < m.rows; r++) {
    if (r === row || Atomics.load(m.i64, m.since(g, r)) === 0n) continue;
    if (slotsOf(m, g, r) < cap) return true;
  }
  return false;
}
