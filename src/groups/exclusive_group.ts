/**
 * One group: its resource pool, autocommit mode and endpoint rotation; the
 * PostgreSQL side of leasing (skip dead sessions, ping after idle) is
 * `lease_vetting.ts`'s.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import { type AcquireOptions, type PoolEntry, ResourcePool } from "../core/resource_pool.ts";
import type { Budget, CoreDropReason } from "../core/resource_pool_types.ts";
import type { GroupStats } from "../pool_types.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointInfo, EndpointScope, EndpointSet } from "../endpoints/endpoint_set.ts";
import type { GroupConfig } from "../config/normalize.ts";
import { AcquireTimeoutError } from "../errors.ts";
import { type HandlerOwner, PoolHandler } from "../handler/pool_handler.ts";
import { type AfterLease, applyAfter } from "../handler/after_lease.ts";
import type { GroupOptions, LeaseGroup } from "./group.ts";
import { LeaseVetting } from "./lease_vetting.ts";
import { sessionPoolOptions } from "./session_pool.ts";
import { ageForLeap, stalledFor, sweepPool } from "../core/housekeeper.ts";
import type { SessionCloseReason as Why } from "../observe/events.ts";
import type { GroupObserver } from "../observe/observer.ts";
import { cancelRunning } from "./cancel_running.ts";

type Entry = PoolEntry<DriverConnection>;

/**
 * The group's resource pool: a session dropped with a query in flight (the caller's signal, end()
 * past its grace, a query still running at release, a leaked lease reclaimed) has that query
 * cancelled (see cancel_running.ts). The session is never reused, so a late cancel hits nobody.
 */
class CancellingPool extends ResourcePool<DriverConnection, Why> {
  protected override drop(entry: Entry, reason: Why | CoreDropReason): void {
    if (entry.busy > 0) cancelRunning(entry.resource);
    super.drop(entry, reason);
  }
}

/** A named group of sessions. */
export class Group implements HandlerOwner, LeaseGroup {
  /** The group's name. */
  readonly name: string;
  /** Runs of `fn` allowed after a failure safe to retry. */
  readonly retry: number;
  /** `false`: each lease runs in a transaction. */
  readonly autocommit: boolean;
  /** `"auto"`, `"none"` or SQL run on release. */
  readonly reset: string;
  /** Sessions get `on_connect` / `sqlprepare`: one that lost it is replaced at release. */
  readonly hasSetup: boolean;
  /** Queries use `%s` / `%(name)s` placeholders. */
  readonly pyformat: boolean;
  /** The clock. */
  readonly clock: Clock;
  /** How long release waits for a query `fn` left running (the ping's deadline). */
  readonly strayWaitMs: number;
  readonly #pool: ResourcePool<DriverConnection, Why>;
  readonly #obs: GroupObserver;
  readonly #endpoints: EndpointSet;
  readonly #scope: EndpointScope;
  #max: number;
  readonly #pingAfterIdleMs: number;
  readonly #opts: GroupOptions;
  readonly #vetting: LeaseVetting;

  /**
   * Builds the group; no I/O.
   *
   * @param name Group name.
   * @param config Its size and autocommit mode.
   * @param opts Shared pool parts.
   * @param budget The budget shared with other isolates (threaded pools).
   */
  constructor(name: string, config: GroupConfig, opts: GroupOptions, budget?: Budget) {
    this.name = name;
    this.retry = config.retry;
    this.#opts = opts;
    this.autocommit = config.autocommit;
    this.reset = config.reset;
    this.hasSetup = config.sqlprepare || config.onConnect !== undefined;
    this.#endpoints = opts.endpoints;
    this.#pingAfterIdleMs = opts.pingAfterIdleMs;
    this.clock = opts.clock;
    this.strayWaitMs = opts.pingTimeoutMs;
    // The group's endpoints and target: which endpoint next, connect, does a session still fit.
    this.#scope = opts.endpoints.scope(name, config);
    this.pyformat = config.paramstyle === "pyformat";
    this.#max = config.connectionCount;
    this.#obs = opts.observer.group(name, opts.endpoints);
    const errors = {
      timeout: (ms: number) => this.timeoutError(ms, ""),
      state: () => this.#state(),
    };
    this.#pool = new CancellingPool(this.#obs.observe(
      sessionPoolOptions(name, config, opts, this.#scope, this.#obs, errors, budget),
    ));
    this.#vetting = new LeaseVetting(this, this.#pool, this.#scope, opts);
  }

  // As many concurrent acquires as the limit: each needs its own session, and
  // the sessions spread over the endpoints as leases would spread them.
  async open(timeoutMs: number): Promise<void> {
    const max = this.#max;
    const got = await Promise.allSettled(
      Array.from({ length: max }, () => this.#pool.acquire({ timeoutMs })),
    );
    for (const r of got) if (r.status === "fulfilled") this.#pool.release(r.value);
    for (const r of got) if (r.status === "rejected") throw r.reason;
  }

  /**
   * Leases a handler of a live session: dead idle sessions are dropped and
   * one that sat idle past the ping window is pinged first (and replaced if
   * the ping fails).
   *
   * @param options Timeout and signal.
   * @param after Runs on the handler as soon as it exists.
   * @returns The handler, synchronously on the fast path.
   */
  lease(options: AcquireOptions, after?: AfterLease): PoolHandler | Promise<PoolHandler> {
    const got = this.#pool.acquire(options, false, this.#served, after);
    if (got instanceof Promise) return got;
    const handler = this.#handler(this.#vetting.vet(this.#obs.served(got, -1), options, -1));
    return after === undefined ? handler : applyAfter(handler, after);
  }

  // A queued caller's next steps, run when the pool serves it (no promise of their own);
  // `start`, when it began to wait: its ping gets what is left of its timeout.
  readonly #served = (entry: Entry, options: AcquireOptions, start: number, after: unknown) => {
    const handler = this.#handler(this.#vetting.vet(entry, options, start));
    this.#obs.served(entry, start);
    return after === undefined ? handler : applyAfter(handler, after as AfterLease);
  };

  // One promise per waiting lease, not one per step.
  #handler(got: Entry | Promise<Entry>): PoolHandler | Promise<PoolHandler> {
    if (got instanceof Promise) return got.then((entry) => new PoolHandler(this, entry));
    return new PoolHandler(this, got);
  }

  /**
   * The error of a caller that waited in vain.
   *
   * @param ms Its timeout.
   * @param why What more to say (after the wait), or "".
   * @returns The error, with the group's state.
   */
  timeoutError(ms: number, why: string): AcquireTimeoutError {
    return new AcquireTimeoutError(
      `Cannot lease from group "${this.name}": no connection became free within ${ms} ms${why} (${this.#state()})`,
    );
  }

  #state(): string {
    const s = this.#pool.stats();
    return `total=${s.total}, leased=${s.leased}, idle=${s.idle}, waiting=${s.waiting}`;
  }

  endpointOf(entry: Entry): EndpointInfo {
    return this.#endpoints.info(entry.partition);
  }

  statementFailed(entry: Entry, code: string | undefined): void {
    this.#scope.statementFailed(entry.partition, code);
  }

  labelOf(entry: Entry): string {
    return this.#endpoints.label(entry.partition);
  }

  release(entry: Entry): void {
    this.#obs.used(entry.partition, entry.lastUsed);
    // An endpoint back after an outage: a session above its endpoint's share is retired.
    if (this.#scope.rebalances(entry.partition)) this.#pool.destroy(entry, "rebalanced");
    else this.#pool.release(entry);
  }

  resize(max: number): void {
    this.#max = max;
    this.#pool.resize(max);
  }

  retire(which: (endpoint: number) => boolean): void {
    this.#pool.retire((entry) => which(entry.partition));
  }

  destroy(entry: Entry, why: Why = "broken"): void {
    if (entry.leased) this.#obs.used(entry.partition, entry.lastUsed);
    this.#pool.destroy(entry, why);
  }

  /** @param leapMs The size of a clock leap: idle sessions get pinged before next use. */
  leap(leapMs: number): void {
    ageForLeap(this.#pool, leapMs, this.#pingAfterIdleMs);
  }

  /**
   * Closes idle sessions past their idle timeout or lifetime; marks leased
   * ones past their lifetime to retire at release.
   *
   * @param now Clock time.
   * @param idleTimeoutMs The idle timeout; 0: none.
   */
  sweep(now: number, idleTimeoutMs: number): void {
    sweepPool(this.#pool, now, idleTimeoutMs);
    const { stallMs, close } = this.#opts;
    for (const entry of this.#pool.entries()) {
      // No reply within query_timeout and its grace: the network is dead. Closing the
      // session rejects the query in flight with a ConnectionError; release drops it.
      const deadline = stallMs[entry.partition];
      if (stalledFor(entry, now) >= deadline && deadline > 0) close(entry.resource);
    }
  }

  /**
   * Gauges and counters.
   *
   * @returns A fresh snapshot.
   */
  stats(): GroupStats {
    return { ...this.#pool.stats(), ...this.#obs.timings.snapshot() };
  }

  /**
   * Stops leasing and closes every session (see `ResourcePool.close`).
   *
   * @param graceMs How long to wait for leased sessions.
   */
  close(graceMs: number): Promise<void> {
    return this.#pool.close(graceMs);
  }
}
