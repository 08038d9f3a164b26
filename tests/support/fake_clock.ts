/** A clock that tests advance by hand: no sleeping, no flakiness. */
import type { Clock } from "../../mod.ts";

interface Timer {
  at: number;
  fn: () => void;
  /** An interval's period; undefined for a one-shot timer. */
  every?: number;
}

export class FakeClock implements Clock {
  #now = 1_000;
  /** Wall time minus monotonic time: moved by {@linkcode FakeClock.stepWall}. */
  #wallOffset = 1_700_000_000_000;
  #timers = new Set<Timer>();

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#now + this.#wallOffset;
  }

  /** Steps the wall clock alone (a suspend the monotonic clock missed, or a clock set back). */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }

  /** Moves time forward without firing timers (a frozen isolate): they fire late on the next advance. */
  freeze(ms: number): void {
    this.#now += ms;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.#now + ms, fn };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as Timer);
  }

  /** Like a runtime's: after a late firing (a freeze), the next one is a period after it. */
  setInterval(fn: () => void, ms: number): unknown {
    const timer = { at: this.#now + ms, fn, every: ms };
    this.#timers.add(timer);
    return timer;
  }

  clearInterval(handle: unknown): void {
    this.#timers.delete(handle as Timer);
  }

  /** Pending one-shot timers (to check that none leak). */
  get pendingTimers(): number {
    let n = 0;
    for (const t of this.#timers) if (t.every === undefined) n++;
    return n;
  }

  /** Running intervals (the pool's housekeeping, while it lives). */
  get pendingIntervals(): number {
    return this.#timers.size - this.pendingTimers;
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.#timers) if (t.at <= target && (!next || t.at < next.at)) next = t;
      if (!next) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      if (next.every !== undefined) {
        next.at = this.#now + next.every;
        this.#timers.add(next);
      }
      next.fn();
    }
    this.#now = target;
  }
}
