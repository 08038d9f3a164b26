/**
 * One group's budget as one isolate sees it: the gate its resource pool asks
 * before opening a session, and the policy that keeps isolates fair.
 *
 * - A take succeeds while the shared total is under `connection_count` and no
 *   other isolate has waited longer (see `line.ts`); a failed take puts the
 *   isolate in line when it has callers waiting.
 * - A slot comes back when its session is closed (after the close, so the
 *   server never sees more sessions than the budget), or at once when the
 *   open failed.
 * - A session coming back closes instead of serving the next local caller when
 *   an isolate in line has waited longer and this one has more sessions open
 *   than its share (`connection_count` ÷ isolates in line, rounded down): at
 *   once above the share rounded up, else once {@linkcode HOLD_MS} passed since
 *   this isolate last took a slot, so that the slots left over by the division
 *   go round the isolates without a reconnect on every release. An idle session
 *   closes whenever another isolate is in line.
 *
 * @module
 */
import type { Budget, BudgetUser } from "../core/resource_pool_types.ts";
import type { Memory } from "./memory.ts";
import { addSlots, giveSlot, slotsOf, takeSlot } from "./slots.ts";
import { firstInLine, inLine, joinLine, leaveLine, othersWait } from "./line.ts";
import type { Row } from "./rows.ts";

/** How long an isolate keeps a slot left over by the division before it passes it on, in ms. */
export const HOLD_MS = 100;

/** What a budget needs from its isolate's membership. */
export interface BudgetHost {
  /** The shared memory. */
  readonly memory: Memory;
  /** The isolate's row, claimed again if it was reclaimed. */
  row(): Row;
  /** Shared time, in ms. */
  now(): number;
  /** Wakes the other isolates. */
  signal(): void;
  /** This isolate has callers in line: poll until they are served. */
  waiting(): void;
  /** The row was reclaimed while this isolate lives: join again and count its sessions. */
  rejoin(): void;
}

/** A group's share of a threaded pool's budget, in one isolate. */
export class SharedBudget implements Budget {
  readonly #host: BudgetHost;
  readonly #m: Memory;
  readonly #g: number;
  readonly #demanders: number;
  #user: BudgetUser | undefined;
  #inLine = false;
  // Closes in flight: their slots are still the row's until they settle.
  #closing = 0;
  // Shared time of the last slot taken.
  #tookAt = 0;

  /**
   * Builds the gate of group `g`.
   *
   * @param host The isolate's membership.
   * @param g Group index.
   */
  constructor(host: BudgetHost, g: number) {
    this.#host = host;
    this.#m = host.memory;
    this.#g = g;
    this.#demanders = host.memory.demanders(g);
  }

  /** Whether this isolate is in line for the group. */
  get inLine(): boolean {
    return this.#inLine;
  }

  attach(user: BudgetUser): void {
    this.#user = user;
  }

  tryTake(): boolean {
    const m = this.#m, g = this.#g;
    const { row, token } = this.#host.row();
    const lined = inLine(m, g);
    if (lined > (this.#inLine ? 1 : 0)) {
      // Others wait: take only below the fair cap, and only in turn.
      const cap = this.#cap(this.#inLine ? lined : lined + 1);
      if (slotsOf(m, g, row) >= cap || !firstInLine(m, g, row, cap)) return this.#wait();
    }
    const got = takeSlot(m, g, row, token);
    if (got === "evicted") {
      this.#host.rejoin();
      return takeSlot(m, g, this.#host.row().row, this.#host.row().token) === "taken";
    }
    if (got === "full") return this.#wait();
    if (this.#inLine) {
      this.#tookAt = this.#host.now();
      // Served once: to the back of the line if callers still wait, out of it if not.
      if (this.#user!.waiting() > 1) {
        if (lined > 1) joinLine(m, g, row, this.#host.now());
      } else this.#leave();
    }
    return true;
  }

  give(closing?: unknown): void {
    if (!(closing instanceof Promise)) return this.#return();
    this.#closing++;
    const done = () => {
      this.#closing--;
      this.#return();
    };
    closing.then(done, done);
  }

  yields(): boolean {
    const lined = Atomics.load(this.#m.i32, this.#demanders);
    if (lined === 0 || (lined === 1 && this.#inLine)) return false;
    return this.#yieldsFor(lined);
  }

  /**
   * Something changed elsewhere (a slot freed, an isolate joined the line):
   * serve this isolate's callers if it is first in line, leave the line if
   * none wait any more, or close idle sessions for the isolates in line.
   */
  wake(): void {
    const user = this.#user;
    if (!user) return;
    if (this.#inLine) {
      if (user.waiting() <= 0) this.#leave();
      else user.refill();
      return;
    }
    for (let n = inLine(this.#m, this.#g); n > 0 && user.shed(); n--);
  }

  /** Counts this isolate's sessions again in its new row (after a reclaim). */
  recount(): void {
    const { row, token } = this.#host.row();
    addSlots(this.#m, this.#g, row, token, (this.#user?.held() ?? 0) + this.#closing);
    if (this.#inLine) joinLine(this.#m, this.#g, row, this.#host.now());
  }

  /** Leaves the line (the pool ends). */
  stop(): void {
    if (this.#inLine) this.#leave();
  }

  /**
   * The shared view: budget, sessions open or opening in every isolate, and
   * this isolate's own.
   *
   * @returns A fresh snapshot.
   */
  stats(): { budget: number; total: number; own: number; isolatesWaiting: number } {
    const m = this.#m, g = this.#g;
    return {
      budget: Atomics.load(m.i32, m.budget(g)),
      total: Atomics.load(m.i32, m.total(g)),
      own: slotsOf(m, g, this.#host.row().row),
      isolatesWaiting: inLine(m, g),
    };
  }

  #yieldsFor(lined: number): boolean {
    const user = this.#user!;
    // No caller here needs it: the slot serves the isolates in line.
    if (!this.#inLine || user.waiting() <= 0) return true;
    const m = this.#m, g = this.#g;
    const { row } = this.#host.row();
    const open = slotsOf(m, g, row) - user.opening() - this.#closing;
    const cap = this.#cap(lined);
    if (open > cap) return true;
    const share = Math.floor(Atomics.load(m.i32, m.budget(g)) / lined);
    if (open <= share || !othersWait(m, g, row, cap)) return false;
    return this.#host.now() - this.#tookAt >= HOLD_MS;
  }

  // The most slots an isolate takes while `lined` isolates wait: its share, rounded up.
  #cap(lined: number): number {
    return Math.ceil(Atomics.load(this.#m.i32, this.#m.budget(this.#g)) / lined);
  }

  #wait(): false {
    if (!this.#inLine && this.#user!.waiting() > 0) {
      joinLine(this.#m, this.#g, this.#host.row().row, this.#host.now());
      this.#inLine = true;
      this.#host.waiting();
      this.#host.signal();
    }
    return false;
  }

  #leave(): void {
    this.#inLine = false;
    leaveLine(this.#m, this.#g, this.#host.row().row);
    this.#host.signal();
  }

  #return(): void {
    const { row, token } = this.#host.row();
    if (!giveSlot(this.#m, this.#g, row, token)) this.#host.rejoin();
    if (Atomics.load(this.#m.i32, this.#demanders) > 0) this.#host.signal();
  }
}
