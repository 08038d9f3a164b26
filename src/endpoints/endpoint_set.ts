/**
 * The endpoint set: the pool's endpoints, shared by every group, each with its
 * health (back-off), its learned role and its session count. Groups reach it
 * through an {@linkcode EndpointScope} ({@linkcode EndpointSet.scope}): the
 * endpoints they are bound to, filtered by their `target_session_attrs`.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { Driver, DriverConnection } from "../driver.ts";
import type { EndpointConfig } from "../config/normalize.ts";
import { type EndpointInfo, RoleBook } from "./role_book.ts";
import type { EndpointScope } from "./endpoint_scope.ts";
import { type ScopeBinding, ScopeBindings } from "./scope_bindings.ts";
import {
  type Attempt,
  type AttemptContext,
  type ConnectExtra,
  type EndpointSetOptions,
  type EndpointState,
  endpointState,
  openSession,
} from "./open_session.ts";
import { planSwap, type SwapPlan } from "../reconfig/endpoint_swap.ts";
import type { BackoffOptions, Health } from "./health.ts";
import { TimingSet } from "../observe/timing.ts";
import { WaitingSearches } from "./attempt_race.ts";
import { describeState, type EndpointStats, endpointStats } from "./endpoint_report.ts";

export type { EndpointConnection } from "./endpoint_scope.ts";
export type { EndpointStats } from "./endpoint_report.ts";
export { EndpointScope } from "./endpoint_scope.ts";
export type { EndpointInfo } from "./role_book.ts";
export type { EndpointSetOptions } from "./open_session.ts";

/** The endpoints of a pool, their health and roles. */
export class EndpointSet {
  readonly #states: EndpointState[];
  readonly #clock: Clock;
  readonly #ctx: AttemptContext;
  readonly #timings: TimingSet[];
  readonly #onHealth: EndpointSetOptions["onHealth"];
  readonly #bound: ScopeBindings;
  /** @internal What is known of each endpoint's role. */
  readonly roles: RoleBook;
  /** @internal Searches waiting on attempts, woken when the pool ends. */
  readonly searches = new WaitingSearches();
  readonly #ended = new AbortController();

  /**
   * Builds the set; no I/O.
   *
   * @param endpoints The configured endpoints.
   * @param opts Driver, clock and back-off.
   */
  constructor(endpoints: readonly EndpointConfig[], opts: EndpointSetOptions) {
    this.#clock = opts.clock;
    this.#ctx = {
      driver: opts.driver,
      clock: opts.clock,
      backoff: { baseMs: opts.reconnectBaseMs, maxMs: opts.reconnectMaxMs },
      onNotice: opts.onNotice,
      ended: this.#ended.signal,
    };
    this.#onHealth = opts.onHealth;
    this.#states = endpoints.map((config) => this.#stateOf(config));
    this.#bound = new ScopeBindings(this.#states);
    this.#timings = endpoints.map(() => new TimingSet());
    this.roles = new RoleBook(endpoints, opts.clock);
  }

  /** @internal The pool ends: wakes waiting searches, aborts connects in flight (they serve nobody). */
  end(): void {
    this.searches.end();
    this.#ended.abort();
  }

  /** @internal Aborted when the pool ends: work opening a session (its setup too) serves nobody. */
  get ended(): AbortSignal {
    return this.#ended.signal;
  }

  /** @internal The pool's clock. */
  get clock(): Clock {
    return this.#clock;
  }

  /** @internal The driver sessions are opened with. */
  get driver(): Driver {
    return this.#ctx.driver;
  }

  /** @internal The reconnect back-off (`reconnectBaseMs`, `reconnectMaxMs`). */
  get backoff(): BackoffOptions {
    return this.#ctx.backoff;
  }

  /** Number of endpoints. */
  get size(): number {
    return this.#states.length;
  }

  /**
   * The endpoints a group may use, seen through its target.
   *
   * @param group The group's name (for messages).
   * @param binding The ids it is bound to (`undefined`: all) and its `target_session_attrs`.
   * @param extra Passed to every connect (the listen session's notifications).
   * @returns The group's view of the set.
   */
  scope(group: string | undefined, binding: ScopeBinding, extra?: ConnectExtra): EndpointScope {
    return this.#bound.open(this, group, binding, extra);
  }

  /**
   * @internal Swaps the endpoint list (`pool.setEndpoints()`, see `planSwap`):
   * kept endpoints take their new configuration (a new password), new ones
   * are added, removed ones take no new sessions; every scope is rebound.
   *
   * @param next The new endpoints, normalised.
   * @returns What changed: the endpoints added (at the end, in order) and the
   *   indexes removed (their sessions are for the groups to retire).
   * @throws {ConfigError} A group is bound to an id the list lacks (nothing changed).
   */
  replace(next: readonly EndpointConfig[]): SwapPlan {
    const plan = planSwap(this.#states, next, this.#bound.bindings());
    for (const [at, config] of plan.keep) this.#states[at].config = config;
    for (const at of plan.remove) this.#states[at].removed = true;
    for (const config of plan.add) {
      this.#states.push(this.#stateOf(config));
      this.#timings.push(new TimingSet());
      this.roles.add(config);
    }
    this.#bound.rebind();
    return plan;
  }

  // A new endpoint's state, its health changes reported through `onHealth`.
  #stateOf(config: EndpointConfig): EndpointState {
    const s = endpointState(config);
    const onHealth = this.#onHealth;
    if (onHealth) s.health.onChange = (up, e) => onHealth(s.config.id, up, e);
    return s;
  }

  /**
   * Where a session of `index` is connected: id, host, port, role.
   *
   * @param index Endpoint index.
   * @returns A frozen object, replaced when the role changes.
   */
  info(index: number): EndpointInfo {
    return this.roles.info(index);
  }

  /**
   * Label of an endpoint, `host:port`.
   *
   * @param index Endpoint index.
   * @returns The label.
   */
  label(index: number): string {
    return this.#states[index].label;
  }

  /**
   * Records that a session of `index` was closed.
   *
   * @param index Endpoint index.
   */
  disconnected(index: number): void {
    this.#states[index].connections--;
  }

  /**
   * After a clock leap: back-offs end `leapMs` sooner (time suspended counts
   * as waited); never later.
   *
   * @param leapMs The size of the leap (> 0).
   */
  leap(leapMs: number): void {
    for (const s of this.#states) s.health.retryAt -= leapMs;
  }

  /**
   * Per-endpoint stats (a removed endpoint while it still has sessions).
   *
   * @returns A fresh snapshot.
   */
  stats(): EndpointStats[] {
    return endpointStats(this.#states, this.roles, this.#timings);
  }

  /** @internal The timings of `index` (over all groups). */
  timings(index: number): TimingSet {
    return this.#timings[index];
  }

  /** @internal The health of `index` (a threaded pool shares it with its other isolates). */
  health(index: number): Health {
    return this.#states[index].health;
  }

  /** @internal Whether `index` is up (not backed off, not waiting for a probe). */
  up(index: number): boolean {
    return this.#states[index].health.up;
  }

  /** @internal Whether `pool.setEndpoints()` removed `index`. */
  removed(index: number): boolean {
    return this.#states[index].removed;
  }

  /** @internal Whether an attempt may go out to `index` now (not backed off). */
  usable(index: number): boolean {
    if (this.#states[index].removed) return false;
    const h = this.#states[index].health;
    return h.failures === 0 || h.available(this.#clock.now());
  }

  /** @internal The message part describing `index`, for `OfflineError`. */
  describe(index: number, why: string | undefined): string {
    return describeState(this.#states[index], this.#clock.now(), why);
  }

  /**
   * @internal Opens one session on `index` (see `openSession`); records the
   * role learned, and makes the other endpoints' roles due for a check when
   * this one was backed off (a failover changes roles).
   */
  async attempt(index: number, learn: boolean, extra?: ConnectExtra): Promise<Attempt> {
    const got = await openSession(this.#states[index], this.#ctx, learn, extra);
    if (got.connection === undefined) {
      if (got.backedOff) this.roles.othersDue(index);
      return got;
    }
    if (got.role !== undefined) this.roles.note(index, got.role);
    this.roles.stamp(index, got.connection);
    return got;
  }

  /** @internal Closes a session the pool will not use. */
  close(index: number, connection: DriverConnection): void {
    this.#states[index].connections--;
    connection.close().catch(() => {});
  }
}
