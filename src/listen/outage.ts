/**
 * The listen session's outages, told to the pool's listeners: `listenlost`
 * when the session is lost, `listenrestored` once a new one listens to every
 * channel again, with how long notifications could have been missed. An
 * outage that ends otherwise (the last channel unlistened, the pool ended)
 * tells nothing more. The details are built only for a name listened to.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { EventSink } from "../observe/event_target.ts";
import type {
  ListenLostDetail,
  ListenLostReason,
  ListenRestoredDetail,
} from "../observe/events.ts";

/** Where the events go: the pool's event sink. */
export type ListenEvents = Pick<EventSink, "hears" | "emit">;

/** The outage state of one pool's listen session. */
export class ListenOutage {
  readonly #clock: Clock;
  readonly #events: ListenEvents | undefined;
  // Clock time from which the session of now is known to listen (all before was delivered).
  #since = 0;
  // While out: when notifications may have started to be missed.
  #from: number | undefined;

  /**
   * Builds the state: no session, no outage.
   *
   * @param clock The pool's clock.
   * @param events The pool's event sink; `undefined`: no events.
   */
  constructor(clock: Clock, events: ListenEvents | undefined) {
    this.#clock = clock;
    this.#events = events;
  }

  /**
   * The session listened at clock time `at` (its LISTENs, or a keep-alive ping, answered).
   *
   * @param at When it was last known to listen.
   */
  listening(at: number): void {
    this.#since = at;
  }

  /**
   * The session was lost: an outage starts (once; a loss while out is none).
   *
   * @param endpoint The lost session's endpoint id.
   * @param channels The channels listened to.
   * @param reason Why.
   * @param error The message of what the pool knows of the cause.
   */
  lost(
    endpoint: string,
    channels: readonly string[],
    reason: ListenLostReason,
    error: string | undefined,
  ): void {
    if (this.#from !== undefined) return;
    this.#from = this.#since;
    if (!this.#events?.hears("listenlost")) return;
    const detail: ListenLostDetail = { endpoint, channels, reason, error };
    this.#events.emit("listenlost", detail);
  }

  /**
   * A new session listens to every channel: the outage, if any, is over.
   *
   * @param endpoint The new session's endpoint id.
   * @param channels The channels it listens to.
   */
  restored(endpoint: string, channels: readonly string[]): void {
    const from = this.#from;
    if (from === undefined) return;
    this.#from = undefined;
    if (!this.#events?.hears("listenrestored")) return;
    const missedMs = this.#clock.now() - from;
    const detail: ListenRestoredDetail = { endpoint, channels, missedMs };
    this.#events.emit("listenrestored", detail);
  }

  /** Listening ended (the last channel went, or the pool ended): an outage ends untold. */
  over(): void {
    this.#from = undefined;
  }
}
