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
import { pingWithin } from "../groups/ping.ts";
import type { ListenLostReason } from "../observe/events.ts";
import { quoteChannel } from "./channel.ts";

// How often the session is checked for loss.
const WATCH_MS = 250;
const KEEP_ALIVE = "the keep-alive ping (SELECT 1)";

/** The listen session's keep-alive: the pool's `listenPingIntervalMs` and `listenPingTimeoutMs`. */
export interface ListenPing {
  /** A `SELECT 1` this often, in ms (on the next loss check: at most every 250 ms). */
  readonly intervalMs: number;
  /** No answer within this many ms (to the ping, or to a new session's LISTENs) closes the session. */
  readonly timeoutMs: number;
}

interface Late {
  readonly awaited: string;
  readonly timeoutMs: number;
}

// The sessions closed for a late answer, and which: their pending queries then
// fail with the driver's bare "closed" error, which `lateAnswerError` replaces.
const closedLate = new WeakMap<DriverConnection, Late>();

// Closes a session whose answer did not come in time, recording why (the first reason stays).
function closeLate(connection: DriverConnection, awaited: string, timeoutMs: number): void {
  if (!closedLate.has(connection)) closedLate.set(connection, { awaited, timeoutMs });
  void connection.close().catch(() => {});
}

function lateMessage(doing: string, endpoint: string, late: Late): string {
  return `Cannot ${doing} on ${endpoint}: the server did not answer ${late.awaited} within listenPingTimeoutMs (${late.timeoutMs} ms), so the pool closed the listen session; raise listenPingTimeoutMs (listen_ping_timeout_ms) above the network's round trip, or check the network`;
}

/**
 * LISTENs every channel on a new session, the answers awaited within
 * `listenPingTimeoutMs` all told: past it (a server gone silent after the
 * login) the session is closed, which fails the LISTEN in flight.
 *
 * @param clock The pool's clock.
 * @param connection The new session.
 * @param channels The channels to LISTEN.
 * @param timeoutMs `listenPingTimeoutMs`.
 * @param endpoint `host:port` of the session's endpoint, for the error.
 * @returns The channels LISTENed.
 * @throws The failed LISTEN's error; after the deadline, a `ConnectionError` naming `listenPingTimeoutMs`.
 */
export async function listenAll(
  clock: Clock,
  connection: DriverConnection,
  channels: { channels(): Iterable<string> },
  timeoutMs: number,
  endpoint: string,
): Promise<string[]> {
  // Several queries under one deadline: a timer of its own, not a ping's.
  const late = clock.setTimeout(() => closeLate(connection, "the LISTEN", timeoutMs), timeoutMs);
  unrefTimer(late);
  const listened: string[] = [];
  let listening = "";
  try {
    for (const channel of channels.channels()) {
      listening = `LISTEN ${quoteChannel(channel)}`;
      await connection.query(listening);
      listened.push(channel);
    }
    return listened;
  } catch (err) {
    throw lateAnswerError(err, connection, endpoint, listening);
  } finally {
    clock.clearTimeout(late);
  }
}

/**
 * The error of a query on the listen session: `err`, or, when the session was
 * closed for a late answer, a `ConnectionError` that names
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
  return new ConnectionError(lateMessage(doing, endpoint, late), endpoint, {
    cause: err,
    reached: true,
  });
}

/**
 * Why a listen session found closed was lost: closed by the pool for a late
 * answer (`"ping-failed"`, with the message naming `listenPingTimeoutMs`), or
 * lost otherwise (`"broken"`).
 *
 * @param connection The session.
 * @param endpoint `host:port` of its endpoint.
 * @returns The reason, and the message when the pool knows more.
 */
export function lossOf(
  connection: DriverConnection,
  endpoint: string,
): { reason: ListenLostReason; error: string | undefined } {
  const late = closedLate.get(connection);
  if (late === undefined) return { reason: "broken", error: undefined };
  return { reason: "ping-failed", error: lateMessage("keep listening", endpoint, late) };
}

/** What a {@linkcode SessionWatch} reports to. */
export interface Watcher<S> {
  /** The session to watch now (`undefined`: none, the watch stops). */
  current(): S | undefined;
  /** The session was found closed. */
  lost(session: S): void;
  /** A keep-alive ping sent at clock time `sentAt` was answered: it listened until then. */
  answered(session: S, sentAt: number): void;
}

/** Watches one session at a time for loss. */
export class SessionWatch<S extends { readonly connection: DriverConnection }> {
  readonly #clock: Clock;
  readonly #ping: ListenPing;
  readonly #pingTicks: number;
  readonly #to: Watcher<S>;
  #timer: TimerHandle | undefined;
  #ticks = 0;
  #pinging = false;

  /**
   * Builds the watch; nothing runs before {@linkcode SessionWatch.arm}.
   *
   * @param clock The pool's clock.
   * @param ping How often the session is asked, and how long it may take to answer.
   * @param to Which session to watch, and who is told of its loss and answers.
   */
  constructor(clock: Clock, ping: ListenPing, to: Watcher<S>) {
    this.#clock = clock;
    this.#ping = ping;
    // The ping rides on the loss checks: every that many of them (10 s: 40).
    this.#pingTicks = Math.max(1, Math.ceil(ping.intervalMs / WATCH_MS));
    this.#to = to;
  }

  /** Starts checking, unless it is already; unref'd: the session's socket, not this timer, keeps a process up. */
  arm(): void {
    if (this.#timer !== undefined) return;
    const tick = () => {
      this.#timer = undefined;
      const s = this.#to.current();
      if (s === undefined) return;
      if (s.connection.closed) return void this.#to.lost(s);
      if (++this.#ticks % this.#pingTicks === 0) this.#send(s);
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

  // Unanswered within listenPingTimeoutMs: the session is closed, and the next check finds it lost.
  #send(s: S): void {
    if (this.#pinging) return;
    this.#pinging = true;
    const { connection } = s;
    const { timeoutMs } = this.#ping;
    const sentAt = this.#clock.now();
    void pingWithin(
      () => connection.query("SELECT 1"),
      this.#clock,
      timeoutMs,
      undefined,
      ignore,
      () => closeLate(connection, KEEP_ALIVE, timeoutMs),
    ).then((outcome) => {
      this.#pinging = false;
      if (outcome === "ok") this.#to.answered(s, sentAt);
    });
  }
}

function ignore(): void {}
