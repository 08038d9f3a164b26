/**
 * `pool.listen`: one dedicated session per pool, outside every group's
 * budget, shared by all channels. It opens on the first `listen`, closes when
 * the last channel is unlistened or the pool ends, and comes back after a
 * reconnect or a failover (with the pool's back-off), every channel listened
 * to again. It connects like a group with `target_session_attrs: "primary"`
 * over the pool's endpoints: LISTEN and NOTIFY need a server not in recovery.
 * A loss and the return are told as `listenlost` and `listenrestored`.
 *
 * @module
 */
import { backoffDelay } from "../core/backoff.ts";
import type { TimerHandle } from "../core/clock.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointScope, EndpointSet } from "../endpoints/endpoint_set.ts";
import { ListenUnsupportedError, PoolClosedError, PoolError } from "../errors.ts";
import { isTransactionPooled } from "../endpoints/transaction_pooler.ts";
import { quoteChannel } from "./channel.ts";
import type { ListenLostReason } from "../observe/events.ts";
import { type OnNotify, Subscribers } from "./subscribers.ts";
import {
  lateAnswerError,
  listenAll,
  type ListenPing,
  lossOf,
  SessionWatch,
} from "./session_watch.ts";
import { type ListenEvents, ListenOutage } from "./outage.ts";

export type { NotifyInfo, OnNotify } from "./subscribers.ts";
export type { ListenPing } from "./session_watch.ts";

interface Session {
  readonly connection: DriverConnection;
  readonly endpoint: number;
}

/** The listen session of one pool. */
export class Listener {
  readonly #endpoints: EndpointSet;
  readonly #channels = new Subscribers();
  readonly #watch: SessionWatch<Session>;
  readonly #ping: ListenPing;
  readonly #outage: ListenOutage;
  #scope: EndpointScope | undefined;
  #session: Session | undefined;
  #connecting: Promise<Session> | undefined;
  #retry: TimerHandle | undefined;
  #failures = 0;
  #closed = false;

  /**
   * Builds the listener; no I/O until the first `listen`.
   *
   * @param endpoints The pool's endpoints.
   * @param ping The session's keep-alive (`listenPingIntervalMs`, `listenPingTimeoutMs`).
   * @param events Where `listenlost` and `listenrestored` go (the pool's event sink).
   */
  constructor(endpoints: EndpointSet, ping: ListenPing, events?: ListenEvents) {
    this.#endpoints = endpoints;
    this.#ping = ping;
    this.#outage = new ListenOutage(endpoints.clock, events);
    this.#watch = new SessionWatch(endpoints.clock, ping, {
      current: () => this.#closed ? undefined : this.#session,
      lost: (s) => this.#found(s),
      answered: (s, sentAt) => this.#session === s && this.#outage.listening(sentAt),
    });
  }

  /**
   * Starts delivering `channel`'s notifications to `onNotify`.
   *
   * @param channel The channel name, as NOTIFY names it (quoted as an identifier).
   * @param onNotify Called with each notification's payload and `{ channel, pid }`.
   * @returns An async function that stops this delivery (and UNLISTENs the
   *   channel when it was the last callback on it).
   */
  async listen(channel: string, onNotify: OnNotify): Promise<() => Promise<void>> {
    const quoted = quoteChannel(channel);
    if (typeof onNotify !== "function") {
      throw new TypeError(`Invalid onNotify: expected a function, received ${typeof onNotify}`);
    }
    const driver = this.#endpoints.driver;
    if (driver.notifications !== true) throw new ListenUnsupportedError(driver.name);
    // Lost before the loss check looked: told (and dropped) before this channel joins.
    if (this.#session?.connection.closed) this.#found(this.#session);
    if (this.#closed) throw new PoolClosedError();
    const entry = this.#channels.add(channel, onNotify);
    let session: Session | undefined;
    try {
      // A session opening now may have LISTENed before this channel was added:
      // LISTEN again (a second LISTEN of a channel changes nothing).
      session = await this.#ensure();
      await session.connection.query(`LISTEN ${quoted}`);
    } catch (err) {
      await this.#remove(channel, entry);
      // end() cut the connect or the LISTEN: say so, not what the cut looked like.
      if (this.#closed) throw new PoolClosedError();
      // The keep-alive ping's deadline may have closed the session under this LISTEN.
      throw session === undefined ? err : this.#lateError(err, session, `LISTEN ${quoted}`);
    }
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      await this.#remove(channel, entry);
    };
  }

  /**
   * After `pool.setEndpoints()`: a session on a removed endpoint moves.
   *
   * @param removed Indexes of the endpoints removed.
   */
  endpointsRemoved(removed: ReadonlySet<number>): void {
    const s = this.#session;
    if (s !== undefined && removed.has(s.endpoint)) this.#lost(s, { reason: "reconfigured" });
  }

  /**
   * Ends listening for good (`pool.end()`): closes the session, stops every timer.
   *
   * @returns When the session is closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    this.#outage.over();
    this.#stopTimers();
    const connecting = this.#connecting;
    if (connecting) await connecting.catch(() => {});
    if (this.#session) await this.#drop(this.#session, false);
  }

  async #remove(channel: string, entry: OnNotify): Promise<void> {
    if (!this.#channels.remove(channel, entry)) return;
    const s = this.#session;
    if (this.#channels.size === 0) {
      this.#outage.over();
      this.#stopTimers();
      if (s) await this.#drop(s, false);
      return;
    }
    if (s && !s.connection.closed) {
      await s.connection.query(`UNLISTEN ${quoteChannel(channel)}`).catch(() => {});
    }
  }

  // The open session, or one opened (and every channel LISTENed) now.
  #ensure(): Promise<Session> {
    const s = this.#session;
    if (s !== undefined && !s.connection.closed) return Promise.resolve(s);
    return this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
  }

  async #open(): Promise<Session> {
    this.#scope ??= this.#endpoints.scope("listen", { targetSessionAttrs: "primary" }, {
      onNotification: (n) => this.#channels.deliver(n),
    });
    const scope = this.#scope;
    const session = await scope.connect(-1);
    // A transaction pooler hands the server session to other clients: no notification comes back.
    if (isTransactionPooled(session.connection)) {
      await this.#drop(session, false);
      throw new PoolError(
        `Cannot LISTEN on ${
          this.#endpoints.label(session.endpoint)
        }: the endpoint has pool_mode "transaction", and such a pooler hands the server session to other clients between transactions, so notifications would not reach this pool; listen through the server itself or a pooler in session mode`,
      );
    }
    let listened: string[];
    try {
      const { clock } = this.#endpoints, label = this.#endpoints.label(session.endpoint);
      listened = await listenAll(
        clock,
        session.connection,
        this.#channels,
        this.#ping.timeoutMs,
        label,
      );
    } catch (err) {
      await this.#drop(session, false);
      throw err;
    }
    if (this.#closed || this.#channels.size === 0) {
      await this.#drop(session, false);
      throw new PoolClosedError();
    }
    // setEndpoints() removed its endpoint while it opened: open on the endpoints of now.
    if (this.#endpoints.removed(session.endpoint)) {
      await this.#drop(session, false);
      return this.#open();
    }
    this.#session = session;
    this.#failures = 0;
    this.#watch.arm();
    // From the LISTENs' answers, not their sending: a later outage starts after this one ends.
    // Last: a listener may unlisten or end the pool from inside the event.
    this.#outage.listening(this.#endpoints.clock.now());
    const id = this.#endpoints.info(session.endpoint).id;
    this.#outage.restored(id, listened.filter((c) => this.#channels.has(c)));
    return session;
  }

  #lateError(err: unknown, s: Session, doing: string): unknown {
    return lateAnswerError(err, s.connection, this.#endpoints.label(s.endpoint), doing);
  }

  // The session was found closed: lost, or closed for a late answer.
  #found(s: Session): void {
    this.#lost(s, lossOf(s.connection, this.#endpoints.label(s.endpoint)));
  }

  // The session was lost (or moved off a removed endpoint): a new one opens, and the loss is told.
  #lost(s: Session, { reason, error }: { reason: ListenLostReason; error?: string }): void {
    void this.#drop(s, true);
    // Last: a listener may unlisten or end the pool from inside the event.
    const channels = [...this.#channels.channels()];
    this.#outage.lost(this.#endpoints.info(s.endpoint).id, channels, reason, error);
  }

  // Closes a session; `again`: open a new one (the old one was lost or moved).
  #drop(s: Session, again: boolean): Promise<void> {
    if (this.#session === s) this.#session = undefined;
    this.#scope?.disconnected(s.endpoint);
    const closed = s.connection.close().catch(() => {});
    if (again) this.#reconnect();
    return closed;
  }

  // Retries with the pool's back-off until a session is up, the last channel goes, or the pool ends.
  #reconnect(): void {
    if (this.#closed || this.#channels.size === 0 || this.#retry !== undefined) return;
    const { baseMs, maxMs } = this.#endpoints.backoff;
    const delay = this.#failures === 0 ? 0 : backoffDelay(this.#failures, baseMs, maxMs);
    this.#retry = this.#endpoints.clock.setTimeout(() => {
      this.#retry = undefined;
      this.#ensure().catch(() => {
        this.#failures++;
        this.#reconnect();
      });
    }, delay);
  }

  #stopTimers(): void {
    this.#watch.stop();
    if (this.#retry !== undefined) this.#endpoints.clock.clearTimeout(this.#retry);
    this.#retry = undefined;
  }
}
