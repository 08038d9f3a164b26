/**
 * A pipelined group (`pipeline: true`, autocommit only): several handlers use
 * one session at once, so the driver pipelines their queries. Each lease takes
 * the session with the fewest handlers on it. Anything that would make one
 * caller's state visible to another — transactions, session-changing
 * statements — is refused (see `SharedHandler`).
 *
 * @module
 */
import { type Clock, waitAtMost } from "../core/clock.ts";
import type { AcquireOptions } from "../core/resource_pool.ts";
import type { Budget } from "../core/resource_pool_types.ts";
import type { GroupStats } from "../pool_types.ts";
import type { SessionCloseReason as Why } from "../observe/events.ts";
import type { GroupObserver } from "../observe/observer.ts";
import type { WaitList } from "../core/wait_list.ts";
import type { EndpointInfo, EndpointScope, EndpointSet } from "../endpoints/endpoint_set.ts";
import type { GroupConfig } from "../config/normalize.ts";
import { PoolClosedError } from "../errors.ts";
import { type AfterLease, applyAfter } from "../handler/after_lease.ts";
import {
  newShared,
  type Shared,
  SharedHandler,
  type SharedOwner,
  sweepVerdict,
} from "../handler/shared_handler.ts";
import type { GroupOptions, LeaseGroup } from "./group.ts";
import { firstSessionWaiters } from "./first_session_waiters.ts";
import { LeastBusy } from "./least_busy.ts";
import { retireShared, shrinkShared } from "../reconfig/shared_sessions.ts";
import { type SessionSetup, sessionSetup } from "./on_connect.ts";

/** A group whose sessions are shared by concurrent handlers. */
export class PipelinedGroup implements LeaseGroup, SharedOwner {
  /** The group's name. */
  readonly name: string;
  /** Runs of `fn` allowed after a failure safe to retry. */
  readonly retry: number;
  /** Queries use `%s` / `%(name)s` placeholders. */
  readonly pyformat: boolean;
  #max: number;
  readonly #endpoints: EndpointSet;
  readonly #scope: EndpointScope;
  readonly #setUp: SessionSetup | undefined;
  readonly #opts: GroupOptions;
  readonly #clock: Clock;
  readonly #obs: GroupObserver;
  readonly #shared: Shared[] = [];
  readonly #waiters: WaitList<Shared>;
  #opening: Promise<void> | undefined;
  readonly #budget: Budget | undefined;
  #openFailure: unknown;
  readonly #rotation = new LeastBusy();
  #leased = 0;
  #closed = false;
  #drained: (() => void) | undefined;
  readonly #counts = { acquired: 0, created: 0, createFailed: 0, destroyed: 0 };

  /**
   * Builds the group; no I/O.
   *
   * @param name Group name.
   * @param config Its size, retry and waiting limit.
   * @param opts The pool's endpoints, clock and session closer.
   * @param budget The budget shared with other isolates (threaded pools).
   */
  constructor(name: string, config: GroupConfig, opts: GroupOptions, budget?: Budget) {
    const { endpoints, clock } = opts;
    this.name = name;
    this.retry = config.retry;
    this.#clock = clock;
    this.#opts = opts;
    this.#max = config.connectionCount;
    this.#endpoints = endpoints;
    this.#scope = endpoints.scope(name, config);
    this.#setUp = sessionSetup(name, config, { ...opts, scope: this.#scope });
    this.pyformat = config.paramstyle === "pyformat";
    this.#waiters = firstSessionWaiters(name, config, clock, () => this.#state());
    this.#obs = opts.observer.group(name, endpoints);
    this.#budget = budget;
    budget?.attach({
      waiting: () => this.#shared.length > 0 || this.#opening ? 0 : this.#waiters.size,
      held: () => this.#shared.length + (this.#opening ? 1 : 0),
      opening: () => this.#opening ? 1 : 0,
      refill: () => this.#open(),
      shed: () => {
        const idle = this.#shared.find((s) => s.holders === 0);
        if (idle) this.broken(idle, "rebalanced");
        return idle !== undefined;
      },
    });
  }

  /**
   * Leases a share of the least busy session; opens sessions up to
   * `connection_count` while every open one is busy. Only a caller that finds
   * no session at all waits, within its timeout and signal.
   *
   * @param options Timeout and abort signal of the wait.
   * @param after Runs on the handler as soon as it exists.
   * @returns The handler.
   * @throws {PoolClosedError} The pool was ended.
   * @throws {OfflineError} No session is open and no endpoint can be reached.
   * @throws {AcquireTimeoutError} No session opened within the timeout.
   */
  lease(options: AcquireOptions, after?: AfterLease): SharedHandler | Promise<SharedHandler> {
    const handler = this.#take(options);
    return after === undefined ? handler : applyAfter(handler, after);
  }

  #take(options: AcquireOptions): SharedHandler | Promise<SharedHandler> {
    if (this.#closed) throw new PoolClosedError();
    const best = this.#rotation.pick(this.#shared, this.#scope, this);
    if (
      best && (best.holders === 0 || this.#shared.length + (this.#opening ? 1 : 0) >= this.#max)
    ) {
      return this.#handOut(best);
    }
    // Every session is busy: open one more, but do not make the caller wait for it.
    this.#open();
    if (best) return this.#handOut(best);
    const start = this.#clock.now();
    return this.#waiters.wait(options, false, true).then((s) => this.#handOut(s, start));
  }

  /**
   * Closes sessions without holders past their idle timeout or lifetime (idle
   * time counts from the first sweep that found them without holders); a
   * busy one past its lifetime takes no new holders and closes when the last leaves.
   *
   * @param now Clock time.
   * @param idleTimeoutMs The idle timeout; 0: none.
   */
  sweep(now: number, idleTimeoutMs: number): void {
    for (const s of [...this.#shared]) {
      const verdict = sweepVerdict(s, now, idleTimeoutMs, this.#opts.stallMs[s.endpoint]);
      // Closing a stalled session rejects its queries in flight, which takes it out of rotation.
      if (verdict === "stalled") this.#opts.close(s.connection);
      else if (verdict === "expired") {
        this.broken(s, now >= s.expiresAt ? "lifetime" : "idle-timeout");
      }
    }
  }

  /**
   * Gauges and counters, in the shape of an exclusive group's: `total` are the
   * sessions, `leased` the handlers out, `acquired` the leases.
   *
   * @returns A fresh snapshot.
   */
  stats(): GroupStats {
    const w = this.#waiters;
    return {
      max: this.#max,
      total: this.#shared.length + (this.#opening ? 1 : 0),
      idle: this.#shared.filter((s) => s.holders === 0).length,
      leased: this.#leased,
      waiting: w.size,
      pending: this.#opening ? 1 : 0,
      waited: w.waited,
      timedOut: w.timedOut,
      rejected: w.rejected,
      ...this.#counts,
      ...this.#obs.timings.snapshot(),
    };
  }

  #state(): string {
    return `total=${this.#shared.length}, leased=${this.#leased}, waiting=${this.#waiters.size}`;
  }

  /**
   * Stops leasing, waits up to `graceMs` for handlers out, closes every session.
   *
   * @param graceMs How long to wait for handlers.
   */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    this.#waiters.rejectAll(new PoolClosedError());
    if (this.#leased > 0) await waitAtMost(this.#clock, graceMs, (done) => (this.#drained = done));
    // A session still opening is closed as soon as it opens; wait for that, within the grace.
    const opening = this.#opening;
    if (opening) await waitAtMost(this.#clock, graceMs, (done) => opening.then(done));
    for (const s of this.#shared.splice(0)) this.#drop(s, "pool-ended");
  }

  /** @internal A handler came back. */
  returned(shared: Shared): void {
    shared.holders--;
    this.#leased--;
    // A caller in another isolate waits for this session's slot.
    if (shared.holders === 0 && this.#budget?.yields()) this.broken(shared, "rebalanced");
    else if (shared.retire && shared.holders === 0) {
      this.broken(shared, this.#clock.now() >= shared.expiresAt ? "lifetime" : "reconfigured");
    }
    if (this.#leased === 0) this.#drained?.();
  }

  resize(max: number): void {
    this.#max = max;
    shrinkShared(this.#shared, max, (s) => this.broken(s, "reconfigured"));
    if (this.#waiters.size > 0) this.#open();
  }

  retire(which: (endpoint: number) => boolean): void {
    const close = (s: Shared) => this.broken(s, "reconfigured");
    retireShared(this.#shared, which, close);
    // The session being opened now (that promise never rejects) retires too, after its first holders.
    this.#opening?.then(() => retireShared(this.#shared.slice(-1), which, close));
  }

  /**
   * After a clock leap (a suspend), sessions nobody holds may be dead: closed
   * now; the next caller gets a fresh one. Held ones go on (their queries tell).
   *
   * @param _leapMs The size of the leap.
   */
  leap(_leapMs: number): void {
    for (const s of this.#shared.filter((s) => s.holders === 0)) this.broken(s, "clock-leap");
  }

  /** @internal A session broke: take it out of rotation. */
  broken(shared: Shared, why: Why = "broken"): void {
    const at = this.#shared.indexOf(shared);
    if (at < 0) return;
    this.#shared.splice(at, 1);
    this.#drop(shared, why);
    // Callers queued while every session was retiring (a resize or drain) get a new one.
    if (this.#waiters.size > 0) this.#open();
  }

  /** @internal Label of an endpoint. */
  label(endpoint: number): string {
    return this.#endpoints.label(endpoint);
  }

  /** @internal Id, host, port and role of an endpoint. */
  endpointOf(endpoint: number): EndpointInfo {
    return this.#endpoints.info(endpoint);
  }

  #handOut(shared: Shared, startedAt = -1): SharedHandler {
    this.#obs.servedOn(shared.endpoint, startedAt);
    shared.holders++;
    this.#leased++;
    this.#counts.acquired++;
    return new SharedHandler(this, shared);
  }

  // One session after the other, as the group opens them under load; each
  // connect is bounded by connect_timeout, so no timeout of its own is needed.
  async open(_timeoutMs: number): Promise<void> {
    while (this.#shared.length < this.#max && !this.#closed) {
      const had = this.#shared.length;
      this.#open();
      // A threaded pool's budget has no slot free: the group opens what it allows.
      if (!this.#opening) return;
      await this.#opening;
      if (this.#shared.length <= had) throw this.#openFailure;
    }
  }

  // Settles on its own (never rejects): waiters learn the outcome.
  #open(): void {
    if (this.#opening || this.#shared.length >= this.#max) return;
    if (this.#budget !== undefined && !this.#budget.tryTake()) return;
    this.#opening = (async () => {
      try {
        const started = this.#clock.now();
        const { connection, endpoint } = await this.#scope.connect(this.#scope.next());
        await this.#setUp?.({ connection, endpoint });
        this.#counts.created++;
        if (this.#closed) {
          this.#scope.disconnected(endpoint);
          // Closed first: `?.` would skip the whole call, argument included.
          const closed = this.#opts.close(connection);
          this.#budget?.give(closed);
          return;
        }
        this.#opts.opened();
        this.#obs.opened(endpoint, started);
        const shared = newShared(connection, endpoint, this.#clock.now(), this.#opts.maxLifetimeMs);
        this.#shared.push(shared);
        // Every waiter shares the new session: that is what pipelining is for.
        while (this.#waiters.resolveNext(shared));
      } catch (err) {
        this.#openFailure = err;
        this.#counts.createFailed++;
        this.#budget?.give();
        if (this.#shared.length === 0) this.#waiters.rejectAll(err);
      } finally {
        this.#opening = undefined;
      }
    })();
  }

  #drop(shared: Shared, why: Why): void {
    this.#obs.closed(shared.endpoint, why);
    this.#counts.destroyed++;
    this.#scope.disconnected(shared.endpoint);
    const closed = this.#opts.close(shared.connection);
    this.#budget?.give(closed);
  }
}
