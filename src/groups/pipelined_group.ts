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
  type Shared,
  SharedHandler,
  type SharedOwner,
  sweepShared,
} from "../handler/shared_handler.ts";
import type { GroupOptions, LeaseGroup } from "./group.ts";
import { firstSessionWaiters } from "./first_session_waiters.ts";
import { LeastBusy } from "./least_busy.ts";
import { PipelinedSessions } from "./pipelined_sessions.ts";
import { SharedVetting } from "./shared_vetting.ts";
import { pipelinedState, pipelinedStats } from "./pipelined_stats.ts";
import { retireShared, shrinkShared } from "../reconfig/shared_sessions.ts";

/** A group whose sessions are shared by concurrent handlers. */
export class PipelinedGroup implements LeaseGroup, SharedOwner {
  /** The group's name. */
  readonly name: string;
  /** Runs of `fn` allowed after a failure safe to retry. */
  readonly retry: number;
  /** Queries use `%s` / `%(name)s` placeholders. */
  readonly pyformat: boolean;
  readonly #endpoints: EndpointSet;
  readonly #scope: EndpointScope;
  readonly #opts: GroupOptions;
  readonly #clock: Clock;
  readonly #obs: GroupObserver;
  readonly #sessions: PipelinedSessions;
  // The same array as `#sessions.list`, read on every lease.
  readonly #shared: Shared[];
  readonly #waiters: WaitList<Shared>;
  readonly #budget: Budget | undefined;
  readonly #rotation = new LeastBusy();
  readonly #vetting: SharedVetting;
  #leased = 0;
  #acquired = 0;
  #closed = false;
  #drained: (() => void) | undefined;

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
    this.#endpoints = endpoints;
    this.pyformat = config.paramstyle === "pyformat";
    this.#waiters = firstSessionWaiters(name, config, clock, () => this.#state());
    this.#budget = budget;
    const shed = () => {
      const idle = this.#shared.find((s) => s.holders === 0);
      if (idle) this.broken(idle, "rebalanced");
      return idle !== undefined;
    };
    this.#sessions = new PipelinedSessions(name, config, opts, this.#waiters, shed, budget);
    this.#shared = this.#sessions.list;
    this.#scope = this.#sessions.scope;
    this.#obs = this.#sessions.obs;
    this.#vetting = new SharedVetting(this.#shared, this, this.#waiters, this.#scope, opts);
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

  // `since`: a caller whose session was dropped before it got it waits again, first in line.
  #take(options: AcquireOptions, since?: number): SharedHandler | Promise<SharedHandler> {
    if (this.#closed) throw new PoolClosedError();
    let best = this.#rotation.pick(this.#shared, this.#scope, this);
    let pinger = false;
    // An idle session past pingAfterIdleMs is pinged, out of rotation meanwhile: pick again.
    while (best?.holders === 0 && this.#vetting.due(best)) {
      this.#vetting.start(best);
      pinger = true;
      best = this.#rotation.pick(this.#shared, this.#scope, this);
    }
    if (best && (best.holders === 0 || this.#sessions.held >= this.#sessions.max)) {
      return this.#handOut(best);
    }
    if (best) {
      // Every session is busy: open one more, but do not make the caller wait for it.
      this.#sessions.openOne();
      return this.#handOut(best);
    }
    const start = since ?? this.#clock.now();
    // Sent back: first in line, its deadline kept, not counted twice. The caller that started a
    // ping waits for it as an exclusive group's caller does for its own: not queued (maxWaiting).
    const again = since === undefined ? options : { ...options, since };
    const counted = since === undefined && !pinger;
    const served = this.#waiters.wait(again, since !== undefined, counted).then((s) =>
      this.#usable(s) ? this.#handOut(s, start) : this.#take(options, start)
    );
    // Opened once the caller waits: a threaded pool's budget then sees it waiting for a slot.
    this.#sessions.openOne();
    return served;
  }

  // A session handed to a waiter may have left the rotation before the waiter ran.
  #usable(s: Shared): boolean {
    return !s.connection.closed && !s.retire && !s.pinging && this.#shared.includes(s);
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
    sweepShared(this.#shared, now, idleTimeoutMs, this.#opts, (s, why) => this.broken(s, why));
  }

  /** Gauges and counters, in the shape of an exclusive group's (see `pipelinedStats`). */
  stats(): GroupStats {
    return pipelinedStats(this.#sessions, this.#waiters, {
      leased: this.#leased,
      acquired: this.#acquired,
    });
  }

  #state(): string {
    return pipelinedState(this.#shared, this.#leased, this.#waiters.size);
  }

  /**
   * Stops leasing, waits up to `graceMs` for handlers out, closes every session.
   *
   * @param graceMs How long to wait for handlers.
   */
  async close(graceMs: number): Promise<void> {
    this.#closed = this.#sessions.closed = true;
    this.#waiters.rejectAll(new PoolClosedError());
    if (this.#leased > 0) await waitAtMost(this.#clock, graceMs, (done) => (this.#drained = done));
    // A session still opening is closed as soon as it opens; wait for that, within the grace.
    const opening = this.#sessions.opening;
    if (opening) await waitAtMost(this.#clock, graceMs, (done) => opening.then(done));
    for (const s of this.#shared.splice(0)) this.#sessions.drop(s, "pool-ended");
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
    this.#sessions.max = max;
    shrinkShared(this.#shared, max, (s) => this.broken(s, "reconfigured"));
    if (this.#waiters.size > 0) this.#sessions.openOne();
  }

  retire(which: (endpoint: number) => boolean): void {
    const close = (s: Shared) => this.broken(s, "reconfigured");
    retireShared(this.#shared, which, close);
    // The session being opened now (that promise never rejects) retires too, after its first holders.
    this.#sessions.opening?.then(() => retireShared(this.#shared.slice(-1), which, close));
  }

  /** After a clock leap (a suspend), sessions nobody holds may be dead: closed now. */
  leap(_leapMs: number): void {
    for (const s of this.#shared.filter((s) => s.holders === 0)) this.broken(s, "clock-leap");
  }

  /** @internal A statement failed: a 25006 in a group that needs a writable server re-checks the role. */
  statementFailed(endpoint: number, code: string | undefined): void {
    this.#scope.statementFailed(endpoint, code);
  }
  /** @internal A session broke: take it out of rotation. */
  broken(shared: Shared, why: Why = "broken"): void {
    const at = this.#shared.indexOf(shared);
    if (at < 0) return;
    this.#shared.splice(at, 1);
    this.#sessions.drop(shared, why);
    // Callers queued while every session was retiring (a resize or drain) get a new one.
    if (this.#waiters.size > 0) this.#sessions.openOne();
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
    this.#acquired++;
    return new SharedHandler(this, shared);
  }

  /** One session after the other (see `LeaseGroup.open`); each connect has its own deadline. */
  open(_timeoutMs: number): Promise<void> {
    return this.#sessions.openAll();
  }
}
