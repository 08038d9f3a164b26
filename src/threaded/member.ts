/**
 * One isolate's membership in a threaded pool: its row, the heartbeat that
 * keeps the row its own (and reclaims the rows of isolates that stopped
 * beating), and the wake-ups that carry events between isolates.
 *
 * Wake-ups: every isolate keeps one `Atomics.waitAsync` on the pool's event
 * word, which others bump and notify when a slot frees, an isolate joins or
 * leaves a line, or an endpoint's health changes. Deno delivers such a
 * wake-up only when its event loop turns for another reason, so an isolate
 * with callers in line also polls every {@linkcode POLL_MS}, and every
 * isolate acts on each heartbeat. No timer here keeps a process alive.
 *
 * @module
 */
import { unrefTimer } from "../core/clock.ts";
import { PoolShareError } from "../errors.ts";
import { EVENTS, type Memory } from "./memory.ts";
import { beat, claimRow, freeRow, owns, reclaimStale, type Row } from "./rows.ts";
import { type BudgetHost, SharedBudget } from "./budget.ts";

/** How often an isolate writes its heartbeat, in ms. */
export const HEARTBEAT_MS = 250;
/** A row whose heartbeat is older than this is reclaimed, in ms. */
export const STALE_MS = 2000;
/** How often an isolate with callers in line looks for a free slot, in ms. */
export const POLL_MS = 5;

/**
 * Shared time: the same millisecond scale in every isolate of a process
 * (`performance.timeOrigin` + `performance.now()`), immune to wall-clock steps
 * after the isolate started.
 *
 * @returns Milliseconds.
 */
export function sharedNow(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}

/** Timings, for tests. */
export interface MemberOptions {
  /** Shared time. @default {sharedNow} */
  now?: () => number;
  /** Heartbeat period, in ms. @default {HEARTBEAT_MS} */
  heartbeatMs?: number;
  /** Reclaim bound, in ms. @default {STALE_MS} */
  staleMs?: number;
}

/** An isolate's membership in one threaded pool. */
export class Member implements BudgetHost {
  /** The shared memory. */
  readonly memory: Memory;
  /** One budget per group, in group order. */
  readonly budgets: SharedBudget[] = [];
  readonly #now: () => number;
  readonly #staleMs: number;
  readonly #onWake: (() => void)[] = [];
  #row: Row;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #poll: ReturnType<typeof setTimeout> | undefined;
  #left = false;

  /**
   * Claims a row and starts the heartbeat and the wake-ups.
   *
   * @param memory The pool's shared memory.
   * @param opts Timings, for tests.
   * @throws {PoolShareError} Every row is taken.
   */
  constructor(memory: Memory, opts: MemberOptions = {}) {
    this.memory = memory;
    this.#now = opts.now ?? sharedNow;
    this.#staleMs = opts.staleMs ?? STALE_MS;
    this.#row = this.#claim();
    for (let g = 0; g < memory.groups; g++) this.budgets.push(new SharedBudget(this, g));
    this.#heartbeat = setInterval(() => this.tick(), opts.heartbeatMs ?? HEARTBEAT_MS);
    unrefTimer(this.#heartbeat);
    this.#listen();
  }

  row(): Row {
    return this.#row;
  }

  now(): number {
    return this.#now();
  }

  /**
   * Runs `fn` on every wake-up (shared health reads its news there).
   *
   * @param fn The listener.
   */
  onWake(fn: () => void): void {
    this.#onWake.push(fn);
  }

  signal(): void {
    const i32 = this.memory.i32;
    Atomics.add(i32, EVENTS, 1);
    Atomics.notify(i32, EVENTS);
  }

  waiting(): void {
    if (this.#poll !== undefined || this.#left) return;
    this.#poll = setTimeout(() => {
      this.#poll = undefined;
      this.wake();
      if (this.budgets.some((b) => b.inLine)) this.waiting();
    }, POLL_MS);
    unrefTimer(this.#poll);
  }

  rejoin(): void {
    if (this.#left || owns(this.memory, this.#row)) return;
    this.#row = this.#claim();
    for (const b of this.budgets) b.recount();
    this.signal();
  }

  /** The heartbeat: stamp the row, reclaim dead isolates' rows, act on news. */
  tick(): void {
    if (this.#left) return;
    const now = this.#now();
    if (!beat(this.memory, this.#row, now)) this.rejoin();
    if (reclaimStale(this.memory, this.#row.row, now, this.#staleMs) > 0) this.signal();
    this.wake();
  }

  /** Acts on whatever changed: each group's line and slots, then the listeners. */
  wake(): void {
    if (this.#left) return;
    for (const b of this.budgets) b.wake();
    for (const fn of this.#onWake) fn();
  }

  /**
   * Leaves the pool: the row and whatever it still counts are returned at
   * once, and the timers stop. Idempotent.
   */
  leave(): void {
    if (this.#left) return;
    for (const b of this.budgets) b.stop();
    this.#left = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#poll);
    freeRow(this.memory, this.#row.row, this.#row.token);
  }

  #claim(): Row {
    const row = claimRow(this.memory, this.#now());
    if (row) return row;
    throw new PoolShareError(
      `Cannot join the shared pool: all ${this.memory.rows} isolate slots are taken`,
    );
  }

  // One wait at a time on the event word; it ends with a notify (or `leave()`).
  #listen(): void {
    if (this.#left || typeof Atomics.waitAsync !== "function") return;
    const i32 = this.memory.i32;
    const seen = Atomics.load(i32, EVENTS);
    const got = Atomics.waitAsync(i32, EVENTS, seen);
    if (!got.async) {
      setTimeout(() => (this.wake(), this.#listen()), 0);
      return;
    }
    got.value.then(() => {
      this.wake();
      this.#listen();
    });
  }
}
