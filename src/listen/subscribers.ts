/**
 * The subscriptions of `pool.listen`: per channel, the callbacks listening
 * to it, and the delivery of a notification to each of them.
 *
 * @module
 */
import type { DriverNotification } from "../driver.ts";

/** What `onNotify` learns beside the payload. */
export interface NotifyInfo {
  /** The channel the notification came on. */
  readonly channel: string;
  /** Process id of the server session that sent it (`pg_backend_pid()` there). */
  readonly pid: number;
}

/** A `pool.listen` callback: the payload (`""` when NOTIFY gave none), the channel and the sender. */
export type OnNotify = (payload: string, info: NotifyInfo) => void | Promise<void>;

/** The channels listened to and their callbacks. */
export class Subscribers {
  readonly #channels = new Map<string, Set<OnNotify>>();

  /** How many channels have callbacks. */
  get size(): number {
    return this.#channels.size;
  }

  /**
   * Whether `channel` has callbacks.
   *
   * @param channel The channel.
   * @returns True while it has at least one.
   */
  has(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** The channels that have callbacks. */
  channels(): IterableIterator<string> {
    return this.#channels.keys();
  }

  /**
   * Adds one subscription: the same function added twice is two.
   *
   * @param channel The channel.
   * @param onNotify The callback.
   * @returns The subscription's entry, for {@linkcode Subscribers.remove}.
   */
  add(channel: string, onNotify: OnNotify): OnNotify {
    const entry: OnNotify = (payload, info) => onNotify(payload, info);
    let callbacks = this.#channels.get(channel);
    if (callbacks === undefined) this.#channels.set(channel, callbacks = new Set());
    callbacks.add(entry);
    return entry;
  }

  /**
   * Removes one subscription.
   *
   * @param channel The channel.
   * @param entry What {@linkcode Subscribers.add} returned.
   * @returns Whether that was the channel's last callback (the channel is gone).
   */
  remove(channel: string, entry: OnNotify): boolean {
    const callbacks = this.#channels.get(channel);
    if (!callbacks?.delete(entry) || callbacks.size > 0) return false;
    this.#channels.delete(channel);
    return true;
  }

  /** Drops every subscription. */
  clear(): void {
    this.#channels.clear();
  }

  /**
   * Calls the channel's callbacks with a notification.
   *
   * @param n The notification.
   */
  deliver(n: DriverNotification): void {
    const callbacks = this.#channels.get(n.channel);
    if (callbacks === undefined) return;
    const info: NotifyInfo = Object.freeze({ channel: n.channel, pid: n.pid });
    // The callbacks of this moment: one listened during the delivery (a Set's
    // iteration would reach it) gets only later notifications; one stopped gets none.
    for (const fn of [...callbacks]) {
      if (!callbacks.has(fn)) continue;
      // A callback's own failure is its own: it must not stop the others.
      try {
        const r = fn(n.payload, info);
        if (r instanceof Promise) r.catch(() => {});
      } catch { /* see above */ }
    }
  }
}
