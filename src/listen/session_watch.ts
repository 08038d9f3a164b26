/**
 * How the listen session is known to be alive: a check for loss every
 * quarter second (a server restart closes its socket), and a query now and
 * then, since a network gone silent (no reset) shows only when asked.
 *
 * @module
 */
import { type Clock, type TimerHandle, unrefTimer } from "../core/clock.ts";
import type { DriverConnection } from "../driver.ts";

// How often the session is checked for loss.
const WATCH_MS = 250;
// A query every PING_TICKS checks (10 s); no answer within PING_WAIT_MS closes the session.
const PING_TICKS = 40;
const PING_WAIT_MS = 5000;

/**
 * Closes `connection` unless the returned function is called within
 * `PING_WAIT_MS` (5 s): for a session whose answer is awaited.
 *
 * @param clock The pool's clock.
 * @param connection The session asked.
 * @returns Called when the answer came (or the wait ended otherwise).
 */
export function closeUnlessAnswered(clock: Clock, connection: DriverConnection): () => void {
  const late = clock.setTimeout(() => void connection.close().catch(() => {}), PING_WAIT_MS);
  unrefTimer(late);
  return () => clock.clearTimeout(late);
}

/** Watches one session at a time for loss. */
export class SessionWatch<S extends { readonly connection: DriverConnection }> {
  readonly #clock: Clock;
  readonly #current: () => S | undefined;
  readonly #lost: (session: S) => void;
  #timer: TimerHandle | undefined;
  #ticks = 0;
  #pinging = false;

  /**
   * Builds the watch; nothing runs before {@linkcode SessionWatch.arm}.
   *
   * @param clock The pool's clock.
   * @param current The session to watch now (`undefined`: none, the watch stops).
   * @param lost Told when the session was found closed.
   */
  constructor(clock: Clock, current: () => S | undefined, lost: (session: S) => void) {
    this.#clock = clock;
    this.#current = current;
    this.#lost = lost;
  }

  /** Starts checking, unless it is already; unref'd: the session's socket, not this timer, keeps a process up. */
  arm(): void {
    if (this.#timer !== undefined) return;
    const tick = () => {
      this.#timer = undefined;
      const s = this.#current();
      if (s === undefined) return;
      if (s.connection.closed) return void this.#lost(s);
      if (++this.#ticks % PING_TICKS === 0) this.#ping(s.connection);
      this.arm();
    };
    this.#timer = this.#clock.setTimeout(tick, WATCH_MS);
    unrefTimer(this.#timer);
  }

  /** Stops checking. */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #ping(connection: DriverConnection): void {
    if (this.#pinging) return;
    this.#pinging = true;
    const answered = closeUnlessAnswered(this.#clock, connection);
    connection.query("SELECT 1").catch(() => {}).finally(() => {
      answered();
      this.#pinging = false;
    });
  }
}
