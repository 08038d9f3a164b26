/**
 * The pool: groups over a shared set of endpoints, `withHandler`, `lease`,
 * `stats` and `end`.
 *
 * @module
 */
import { systemClock } from "./core/clock.ts";
import type { AcquireOptions } from "./core/resource_pool.ts";
import { normalizeConfig, type PoolConfigInput } from "./config/normalize.ts";
import { defaultDriver } from "./default_driver.ts";
import { EndpointSet } from "./endpoints/endpoint_set.ts";
import { PoolClosedError, UnconfiguredGroupError } from "./errors.ts";
import { buildGroups, closeGroups, type Groups, groupStats } from "./groups/build.ts";
import { openGroups } from "./groups/open_groups.ts";
import type { LeaseGroup } from "./groups/group.ts";
import type { Handler } from "./handler/handler.ts";
import { LeaseWatch } from "./handler/lease_watch.ts";
import { runWithHandler } from "./handler/run_once.ts";
import { acquireOptions, type LeaseOptions } from "./handler/lease_options.ts";
import type { PoolOptions, PoolStats } from "./pool_types.ts";

export type { LeaseOptions, PoolOptions, PoolStats };

/**
 * A connection pool over one or more PostgreSQL endpoints, with named groups.
 * Build one with {@linkcode createPool}.
 *
 * It is an `EventTarget`. Events (`CustomEvent`, data in `detail`):
 * - `leak` — a lease held longer than `leakDetectionMs`, reported once:
 *   `{ group, heldMs, stack }`, the stack of the call that leased it.
 * - `unreleased` — a handler from `lease()` was garbage-collected without
 *   being released; its connection was closed and its slot freed:
 *   `{ group, stack }` (the stack when `leakDetectionMs` is on).
 *
 * @example A pool over two endpoints, one query, then end()
 * ```ts
 * import { createPool } from "@x/pgdbpool";
 * const pool = createPool({
 *   db: "postgres://app:secret@db1:5432,db2:5432/app",
 *   groups: { default: { connection_count: 10 } },
 * });
 * const rows = await pool.withHandler("default", async (db) => {
 *   return (await db.query("SELECT now() AS t")).rows;
 * });
 * await pool.end();
 * ```
 */
export class Pool extends EventTarget {
  readonly #groups: Groups;
  readonly #endpoints: EndpointSet;
  readonly #defaultAcquire: AcquireOptions;
  readonly #endTimeoutMs: number;
  readonly #watch: LeaseWatch;
  #closed = false;
  #ended: Promise<void> | undefined;

  /**
   * Builds a pool; it connects lazily, on first lease.
   *
   * @param input The configuration.
   * @param options The clock, for tests.
   * @throws {ConfigError} When the configuration is invalid.
   */
  constructor(input: PoolConfigInput, options: PoolOptions = {}) {
    super();
    const config = normalizeConfig(input);
    const clock = options.clock ?? systemClock;
    this.#endTimeoutMs = config.endTimeoutMs;
    this.#defaultAcquire = { timeoutMs: config.acquireTimeoutMs };
    this.#watch = new LeaseWatch({
      thresholdMs: config.leakDetectionMs,
      clock,
      report: (type: string, detail: unknown) =>
        this.dispatchEvent(new CustomEvent(type, { detail })),
    });
    this.#endpoints = new EndpointSet(config.endpoints, {
      driver: config.driver ?? defaultDriver(),
      clock,
      reconnectBaseMs: config.reconnectBaseMs,
      reconnectMaxMs: config.reconnectMaxMs,
      // Server notices (RAISE NOTICE, warnings) as a `notice` event; detail: DriverNotice.
      onNotice: (notice) => this.dispatchEvent(new CustomEvent("notice", { detail: notice })),
    });
    this.#groups = buildGroups(config, this.#endpoints, clock);
  }

  /**
   * Leases a connection of `group`, runs `fn` with it, commits (groups with
   * `autocommit: false`) or rolls back if `fn` throws, and releases it.
   *
   * @typeParam T What `fn` returns.
   * @param group The group name.
   * @param fn The work; its handler is valid until `fn` settles.
   * @param options Abort signal and acquire timeout.
   * @returns What `fn` returned.
   * @throws {UnconfiguredGroupError} Unknown group.
   * @throws {AcquireTimeoutError} No connection became free in time.
   * @throws {OfflineError} No endpoint can be reached.
   * @throws {ConnectionError} The session was lost (then `fn`'s result is discarded).
   * @throws {PoolClosedError} The pool was ended.
   * @throws {TypeError} `options.signal` is not an AbortSignal.
   * @throws {RangeError} `options.timeoutMs` is not a number ≥ 0.
   * @throws The signal's reason, when it aborts before `fn` settles.
   * @throws Whatever `fn` throws, unchanged (after the group's `retry` attempts, if any).
   *
   * @example A transaction that commits when fn returns
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { tx: { connection_count: 4, autocommit: false } } });
   * await pool.withHandler("tx", async (db) => {
   *   await db.query("INSERT INTO audit(msg) VALUES ($1)", ["hello"]);
   * }); // committed here
   * ```
   */
  withHandler<T>(
    group: string,
    fn: (db: Handler) => T | Promise<T>,
    options?: LeaseOptions,
  ): Promise<T> {
    try {
      const g = this.#group(group);
      const opts = acquireOptions(options, this.#defaultAcquire);
      // The stack is taken before the first await, while the caller's frames are on it.
      return runWithHandler(g, fn, opts, this.#watch, this.#watch.stackHere());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Leases a connection of `group` for the caller to release. Uncommitted work
   * is rolled back on release: call `commit()` first.
   *
   * @param group The group name.
   * @param options Abort signal and acquire timeout.
   * @returns The handler; release it with `release()` or `await using`.
   * @throws {UnconfiguredGroupError} Unknown group.
   * @throws {AcquireTimeoutError} No connection became free in time.
   * @throws {OfflineError} No endpoint can be reached.
   * @throws {PoolClosedError} The pool was ended.
   *
   * @example Hold a connection for a block with await using
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
   * {
   *   await using db = await pool.lease("default");
   *   await db.query("SELECT 1");
   * } // released here
   * ```
   */
  async lease(group: string, options?: LeaseOptions): Promise<Handler> {
    const g = this.#group(group);
    const opts = acquireOptions(options, this.#defaultAcquire);
    const stack = this.#watch.stackHere();
    const handler = await g.lease(opts);
    handler.watchWith(this.#watch, stack);
    return handler;
  }

  /**
   * Gauges and counters per group and per endpoint. Never contains a password.
   *
   * @returns A fresh snapshot.
   *
   * @example Read a group's idle count
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
   * console.log(pool.stats().groups.default.idle); // 0: nothing opened yet
   * ```
   */
  stats(): PoolStats {
    return { groups: groupStats(this.#groups), endpoints: this.#endpoints.stats() };
  }

  /**
   * Opens every group's `connection_count` sessions now, spread over the
   * endpoints as leases would spread them (the pool is lazy otherwise).
   *
   * @returns When every group holds its sessions.
   * @throws {OfflineError} Some group could not open them all (the sessions opened stay).
   * @throws {ConnectionError} A server refused the login (`code`: `28P01`, `28000`, `3D000`).
   *
   * @example Fail at startup when a server is down
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
   * await pool.open();
   * ```
   */
  open(): Promise<void> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    return openGroups(this.#groups.byName, this.#defaultAcquire.timeoutMs);
  }

  /**
   * Ends the pool: new leases fail with {@linkcode PoolClosedError}, leased
   * handlers get `endTimeoutMs` to come back, then every session is closed.
   * Calling it again returns the same promise.
   *
   * @returns When every session is closed.
   *
   * @example End the pool when the process shuts down
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
   * await pool.end();
   * ```
   */
  end(): Promise<void> {
    this.#closed = true;
    this.#watch.stop();
    return this.#ended ??= closeGroups(this.#groups, this.#endTimeoutMs);
  }

  /** Same as {@linkcode Pool.end}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.end();
  }

  #group(name: string): LeaseGroup {
    const g = this.#groups.byName.get(name);
    if (g) return g;
    if (this.#closed) throw new PoolClosedError();
    throw new UnconfiguredGroupError(name, [...this.#groups.byName.keys()]);
  }
}

/**
 * Builds a pool. No I/O happens until the first lease.
 *
 * @param config The configuration (see `PoolConfigInput`).
 * @param options The clock, for tests.
 * @returns The pool.
 * @throws {ConfigError} When the configuration is invalid.
 *
 * @example Two endpoint objects and two groups
 * ```ts
 * import { createPool } from "@x/pgdbpool";
 * const pool = createPool({
 *   db: [{ host: "db1", name: "app", user: "app" }, { host: "db2", name: "app", user: "app" }],
 *   groups: { web: { connection_count: 10 }, jobs: { connection_count: 2, autocommit: false } },
 * });
 * ```
 */
export function createPool(config: PoolConfigInput, options?: PoolOptions): Pool {
  return new Pool(config, options);
}
