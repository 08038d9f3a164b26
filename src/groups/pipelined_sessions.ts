/**
 * The sessions of a pipelined group: opened one at a time (each new one is
 * shared by every caller waiting for a first session), within the group's
 * `connection_count` and a threaded pool's shared budget, and closed with
 * their slot given back.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { Budget } from "../core/resource_pool_types.ts";
import type { WaitList } from "../core/wait_list.ts";
import type { EndpointScope } from "../endpoints/endpoint_set.ts";
import type { GroupConfig } from "../config/normalize.ts";
import type { SessionCloseReason as Why } from "../observe/events.ts";
import type { GroupObserver } from "../observe/observer.ts";
import { newShared, type Shared } from "../handler/shared_handler.ts";
import type { GroupOptions } from "./group.ts";
import { type SessionSetup, sessionSetup } from "./on_connect.ts";

/** A pipelined group's open sessions and the one being opened. */
export class PipelinedSessions {
  /** The open sessions, in rotation order. */
  readonly list: Shared[] = [];
  /** The group's `connection_count`. */
  max: number;
  /** Set when the group is closed: a session that opens then is closed at once. */
  closed = false;
  /** The session being opened; settles when it is (never rejects). */
  opening: Promise<void> | undefined;
  /** Sessions opened, failed to open, closed. */
  readonly counts = { created: 0, createFailed: 0, destroyed: 0 };
  /** The group's endpoints and target. */
  readonly scope: EndpointScope;
  /** Where the group's sessions, waits and timings are reported. */
  readonly obs: GroupObserver;
  readonly #setUp: SessionSetup | undefined;
  readonly #opts: GroupOptions;
  readonly #clock: Clock;
  readonly #waiters: WaitList<Shared>;
  readonly #budget: Budget | undefined;
  #openFailure: unknown;

  /**
   * No I/O.
   *
   * @param name The group's name.
   * @param config Its size and session setup.
   * @param opts The pool's parts.
   * @param waiters The callers waiting for a first session.
   * @param shed Closes a session nobody holds, if any (for the budget); returns whether it did.
   * @param budget The budget shared with other isolates (threaded pools).
   */
  constructor(
    name: string,
    config: GroupConfig,
    opts: GroupOptions,
    waiters: WaitList<Shared>,
    shed: () => boolean,
    budget: Budget | undefined,
  ) {
    this.max = config.connectionCount;
    const scope = this.scope = opts.endpoints.scope(name, config);
    this.obs = opts.observer.group(name, opts.endpoints);
    this.#setUp = sessionSetup(name, config, { ...opts, scope });
    this.#opts = opts;
    this.#clock = opts.clock;
    this.#waiters = waiters;
    this.#budget = budget;
    budget?.attach({
      waiting: () => this.list.length > 0 || this.opening ? 0 : waiters.size,
      held: () => this.held,
      opening: () => this.opening ? 1 : 0,
      refill: () => this.openOne(),
      shed,
    });
  }

  /** Sessions open or opening. */
  get held(): number {
    return this.list.length + (this.opening ? 1 : 0);
  }

  /**
   * Opens sessions one after the other until the group holds `max` (as the
   * group opens them under load); each connect is bounded by
   * connect_timeout, so no timeout of its own is needed.
   *
   * @throws The error of the session that failed to open.
   */
  async openAll(): Promise<void> {
    while (this.list.length < this.max && !this.closed) {
      const had = this.list.length;
      this.openOne();
      // A threaded pool's budget has no slot free: the group opens what it allows.
      if (!this.opening) return;
      await this.opening;
      if (this.list.length <= had) throw this.#openFailure;
    }
  }

  /**
   * Starts opening one more session, unless one is opening, the group is
   * full or the budget has no slot. Settles on its own (never rejects):
   * waiters learn the outcome.
   */
  openOne(): void {
    if (this.opening || this.list.length >= this.max) return;
    if (this.#budget !== undefined && !this.#budget.tryTake()) return;
    this.opening = (async () => {
      try {
        const started = this.#clock.now();
        const { connection, endpoint } = await this.scope.connect(this.scope.next());
        await this.#setUp?.({ connection, endpoint });
        this.counts.created++;
        if (this.closed) {
          this.scope.disconnected(endpoint);
          // Closed first: `?.` would skip the whole call, argument included.
          const closed = this.#opts.close(connection);
          this.#budget?.give(closed);
          return;
        }
        this.#opts.opened();
        this.obs.opened(endpoint, started);
        const shared = newShared(connection, endpoint, this.#clock.now(), this.#opts.maxLifetimeMs);
        this.list.push(shared);
        // Every waiter shares the new session: that is what pipelining is for.
        while (this.#waiters.resolveNext(shared));
      } catch (err) {
        this.#openFailure = err;
        this.counts.createFailed++;
        this.#budget?.give();
        if (this.list.length === 0) this.#waiters.rejectAll(err);
      } finally {
        this.opening = undefined;
      }
    })();
  }

  /**
   * Closes a session already out of {@linkcode PipelinedSessions.list}.
   *
   * @param shared The session.
   * @param why Why it closes (for the `sessionclose` event).
   */
  drop(shared: Shared, why: Why): void {
    this.obs.closed(shared.endpoint, why);
    this.counts.destroyed++;
    this.scope.disconnected(shared.endpoint);
    const closed = this.#opts.close(shared.connection);
    this.#budget?.give(closed);
  }
}
