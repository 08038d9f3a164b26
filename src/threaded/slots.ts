/**
 * Slot accounting of one group across isolates. A group's `total` counts the
 * sessions open or opening in every isolate; it never passes the budget
 * through {@linkcode takeSlot}. Each isolate row's word packs its owner's
 * token with its own count, so that a take, a give and a reclaim that race
 * each other count every slot exactly once: a row whose token changed (it was
 * reclaimed) takes and gives nothing, and the reclaim subtracts exactly what
 * the row held when it swapped the word to zero.
 *
 * @module
 */
import type { Memory } from "./memory.ts";

/** The outcome of {@linkcode takeSlot}. */
export type Take = "taken" | "full" | "evicted";

const COUNT = 0xffff;

/**
 * The word of a row that `token` just claimed: no slots.
 *
 * @param token The owner's token (1..65535).
 * @returns The packed word.
 */
export function emptyRow(token: number): number {
  return (token << 16) | 0;
}

/**
 * Takes one slot of group `g` for `row`, if the total is under the budget.
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The caller's row.
 * @param token The caller's token.
 * @returns `"taken"`; `"full"` at the budget; `"evicted"` when the row is no
 *   longer the caller's (nothing was counted).
 */
export function takeSlot(m: Memory, g: number, row: number, token: number): Take {
  const { i32 } = m;
  const total = m.total(g);
  const budget = Atomics.load(i32, m.budget(g));
  for (;;) {
    const t = Atomics.load(i32, total);
    if (t >= budget) return "full";
    if (Atomics.compareExchange(i32, total, t, t + 1) === t) break;
  }
  const at = m.slots(g, row);
  for (;;) {
    const w = Atomics.load(i32, at);
    if (w >>> 16 !== token) {
      // Reclaimed meanwhile: the slot taken above was never the row's.
      Atomics.sub(i32, total, 1);
      return "evicted";
    }
    if ((w & COUNT) === COUNT) throw new RangeError("Cannot take a slot: 65535 already held");
    if (Atomics.compareExchange(i32, at, w, w + 1) === w) return "taken";
  }
}

/**
 * Gives back one slot of group `g` held by `row`.
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The caller's row.
 * @param token The caller's token.
 * @returns `false` when the row is no longer the caller's (its slots were
 *   reclaimed already) or holds none: nothing changed.
 */
export function giveSlot(m: Memory, g: number, row: number, token: number): boolean {
  const { i32 } = m;
  const at = m.slots(g, row);
  for (;;) {
    const w = Atomics.load(i32, at);
    if (w >>> 16 !== token || (w & COUNT) === 0) return false;
    if (Atomics.compareExchange(i32, at, w, w - 1) === w) break;
  }
  Atomics.sub(i32, m.total(g), 1);
  return true;
}

/**
 * Counts `n` slots for `row` whatever the budget: an isolate whose row was
 * reclaimed while its sessions were still open counts them again in its new
 * row (the total may pass the budget until they close).
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The caller's new row.
 * @param token Its token.
 * @param n Sessions open or opening in the caller's isolate.
 * @returns `false` when the row is not the caller's.
 */
export function addSlots(m: Memory, g: number, row: number, token: number, n: number): boolean {
  if (n === 0) return true;
  const { i32 } = m;
  const at = m.slots(g, row);
  for (;;) {
    const w = Atomics.load(i32, at);
    if (w >>> 16 !== token) return false;
    if (Atomics.compareExchange(i32, at, w, w + n) === w) break;
  }
  Atomics.add(i32, m.total(g), n);
  return true;
}

/**
 * Empties `row` in group `g` if `token` still owns it: its slots leave the
 * total, once, whoever calls.
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The row.
 * @param token The owner's token the caller saw.
 * @returns The slots returned (0 when another call emptied it first).
 */
export function clearSlots(m: Memory, g: number, row: number, token: number): number {
  const { i32 } = m;
  const at = m.slots(g, row);
  for (;;) {
    const w = Atomics.load(i32, at);
    if (w >>> 16 !== token) return 0;
    if (Atomics.compareExchange(i32, at, w, 0) === w) {
      const n = w & COUNT;
      if (n > 0) Atomics.sub(i32, m.total(g), n);
      return n;
    }
  }
}

/**
 * Slots `row` holds in group `g`.
 *
 * @param m The shared memory.
 * @param g Group index.
 * @param row The row.
 * @returns Its count.
 */
export function slotsOf(m: Memory, g: number, row: number): number {
  return Atomics.load(m.i32, m.slots(g, row)) & COUNT;
}
