/**
 * How the listen session is known to be alive: a check for loss every
 * quarter second (a server restart closes its socket), and a query now and
 * then, since a network gone silent (no reset) shows only when asked.
 *
 * @module
 */
import { type Clock, type TimerHandle, unrefTimer } from "../core/clock.ts";
import type { DriverConnection } from "../driver.ts";
import { ConnectionError } from "../errors.ts";

// How often the session is checked for loss.
const WATCH_MS = 250;

/** The listen session's keep-alive: the pool's `listenPingIntervalMs` and `listenPingTimeoutMs`. */
export interface ListenPing {
  /** A `SELECT 1` this often, in ms (on the next loss check: at most every 250 ms). */
  readonly intervalMs: number;
  /** No answer within this many ms (to the ping, or to a new session's LISTENs) closes the session. */
  readonly timeoutMs: number;
}

// The sessions closed for a late answer, and which: their pending queries then
// fail with the driver's bare "closed" error, which `lateAnswerError` replaces.
const closedLate = new WeakMap<DriverConnection, { awaited: string; timeoutMs: number }>();

/**
 * Closes `connection` unless the returned function is called within
 * `timeoutMs`: for a session whose answer is awaited.
 *
 * @param clock The pool's clock.
 * @param connection The session asked.
 * @param timeoutMs How long the answer may take, in ms.
 * @param awaited What is awaited, for the error of the queries the close fails ("the LISTEN").
 * @returns Called when the answer came (or the wait ended otherwise).
 */
export function closeUnlessAnswered(
  clock: Clock,
  connection: DriverConnection,
  timeoutMs: number,
  awaited: string,
): () => void {
  const late = clock.setTimeout(() => {
    if (!closedLate.has(connection)) closedLate.set(connection, { awaited, timeoutMs });
    void connection.close().catch(() => {});
  }, timeoutMs);
  unrefTimer(late);
  return () => clock.clearTimeout(late);
}

/**
 * The error of a query on the listen session: `err`, or, when the session was
 * closed by {@linkcode closeUnlessAnswered}, a `ConnectionError` that names
 * `listenPingTimeoutMs`, since the driver's own error only says "closed".
 *
 * @param err The query's error.
 * @param connection The session it ran on.
 * @param endpoint `host:port` of the session's endpoint.
 * @param doing What the query was for ("LISTEN \"jobs\"").
 * @returns The error to reject with.
 */
export function lateAnswerError(
  err: unknown,
  connection: DriverConnection,
  endpoint: string,
  doing: string,
): unknown {
  const late = closedLate.get(connection);
  if (late === undefined) return err;
  return new ConnectionError(
    `Cannot ${doing} on ${endpoint}: the server did not answer ${late.awaited} within listenPingTimeoutMs (${late.timeoutMs} ms), so the pool closed the listen session; raise listenPingTimeoutMs (listen_ping_timeout_ms) above the network's round trip, or check the network`,
    endpoint,
    { cause: err, reached: true },
  );
}

/** Watches one session at a time for loss. */
export class SessionWatch<S extends { readonly connection: DriverConnection }> {
  readonly #clock: Clock;
  readonly #ping: ListenPing;
  readonly #pingTicks: number;
  readonly #current: () => S | undefined;
  readonly #lost: (session: S) => void;
  #timer: TimerHandle | undefined;
  #ticks = 0;
  #pinging = false;

  /**
   * Builds the watch; nothing runs before {@linkcode SessionWatch.arm}.
   *
   * @param clock The pool's clock.
   * @param ping How often the session is asked, and how long it may take to answer.
   * @param current The session to watch now (`undefined`: none, the watch stops).
   * @param lost Told when the session was found closed.
   */
  constructor(
    clock: Clock,
    ping: ListenPing,
    current: () => S | undefined,
    lost: (session: S) => void,
  ) {
    this.#clock = clock;
    this.#ping = ping;
    // The ping rides on the loss checks: every that many of them (10 s: 40).
    this.#pingTicks = Math.max(1, Math.ceil(ping.intervalMs / WATCH_MS));
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
      if (++this.#ticks % this.#pingTicks === 0) this.#send(s.connection);
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

  #send(connection: DriverConnection): void {
    if (this.#pinging) return;
    this.#pinging = true;
    const answered = closeUnlessAnswered(
      this.#clock,
      connection,
      this.#ping.timeoutMs,
      "the keep-alive ping (SELECT 1)",
    );
    connection.query("SELECT 1").catch(() => {}).finally(() => {
      answered();
      this.#pinging = false;
    });
  }
}
