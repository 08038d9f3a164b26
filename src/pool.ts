/**
 * The {@linkcode Pool} class and {@linkcode createPool}; the behaviour lives in pool_state.ts.
 * @module
 */
import type { PoolConfigInput } from "./config/normalize.ts";
import type { OnNotify } from "./listen/listener.ts";
import type { Handler, QueryParams, QueryResult } from "./handler/handler.ts";
import type { LeaseOptions } from "./handler/lease_options.ts";
import { type QueryOptions, queryThrough } from "./handler/one_liners.ts";
import type { PoolOptions, PoolStats } from "./pool_types.ts";
import { buildPoolParts } from "./pool_parts.ts";
import { PoolState } from "./pool_state.ts";
import { eventSinkOf, PoolEventTarget } from "./observe/event_target.ts";
import type { PoolHandle } from "./threaded/handle.ts";

export type { LeaseOptions, PoolOptions, PoolStats, QueryOptions };

/**
 * A connection pool over one or more PostgreSQL endpoints, with named groups, built by
 * {@linkcode createPool}; an `EventTarget` of the events in {@linkcode PoolEventMap}.
 * @example A pool over two endpoints, and one query
 * ```ts
 * import { createPool } from "@x/pgdbpool";
 * const pool = createPool({ db: "postgres://app:secret@db1,db2/app", groups: { default: { connection_count: 10 } } });
 * const { rows } = await pool.withHandler("default", (db) => db.query("SELECT now() AS t"));
 * ```
 */
export class Pool extends PoolEventTarget {
  readonly #s: PoolState;

  /**
   * Builds a pool; it connects lazily, on first lease.
   * @param input The configuration, or a handle from {@linkcode Pool.share}.
   * @param options The clock, for tests; the driver of a pool built from a handle.
   * @throws {ConfigError | PoolShareError} An invalid configuration; a handle with no isolate slot left.
   */
  constructor(input: PoolConfigInput | PoolHandle, options: PoolOptions = {}) {
    super();
    this.#s = new PoolState(buildPoolParts(input, options, eventSinkOf(this)));
  }

  /**
   * Leases a connection of `group`, runs `fn` with it, commits (groups with
   * `autocommit: false`) or rolls back if `fn` throws, and releases it.
   * @typeParam T What `fn` returns.
   * @param group The group name.
   * @param fn The work; its handler is valid until `fn` settles.
   * @param options Abort signal and acquire timeout.
   * @returns What `fn` returned.
   * @throws {UnconfiguredGroupError | PoolClosedError | AcquireTimeoutError | OfflineError | ConnectionError | TypeError | RangeError}
   *   Unknown group; pool ended; no connection in time; no endpoint reachable; session lost;
   *   bad `options`. Also the signal's reason, and whatever `fn` throws.
   * @example A transaction that commits when fn returns
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { tx: { connection_count: 4, autocommit: false } } });
   * await pool.withHandler("tx", (db) => db.query("INSERT INTO audit(msg) VALUES ($1)", ["hi"]));
   * ```
   */
  withHandler<T>(
    group: string,
    fn: (db: Handler) => T | Promise<T>,
    options?: LeaseOptions,
  ): Promise<T> {
    return this.#s.withHandler(group, fn, options);
  }

  /**
   * Runs one statement through {@linkcode Pool.withHandler} on the group `default` or `options.group`.
   * @param text SQL text (`R`: the row shape).
   * @param params Values for `$1`, `$2`… (pyformat groups: an array for `%s`, an object for `%(name)s`)
   * @param options The group, abort signal and acquire timeout.
   * @returns The statement's result.
   * @throws See {@linkcode Pool.withHandler} and `Handler.query`.
   * @example One statement, pg-pool style
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * const { rows } = await defaultPool().query("SELECT $1", [42]);
   * ```
   */
  query<R = Record<string, unknown>>(
    text: string,
    params?: QueryParams,
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    return queryThrough<R>((g, fn, o) => this.withHandler(g, fn, o), text, params, options);
  }

  /**
   * Leases a connection of `group` for the caller to release; uncommitted work is rolled back.
   * @param group The group name.
   * @param options Abort signal and acquire timeout.
   * @returns The handler; release it with `release()` or `await using`.
   * @throws See {@linkcode Pool.withHandler}.
   * @example Hold a connection for a scope with await using
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * await using db = await defaultPool().lease("default"); // released at the scope's end
   * ```
   */
  lease(group: string, options?: LeaseOptions): Promise<Handler> {
    return this.#s.lease(group, options);
  }

  /**
   * Gauges, counters and timings per group and per endpoint; never a password.
   * @returns A fresh snapshot.
   * @example Read a group's idle count
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * console.log(defaultPool().stats().groups.default.idle);
   * ```
   */
  stats(): PoolStats {
    return this.#s.stats();
  }

  /**
   * A handle on this `type: "threaded"` pool to post to a Worker, where `createPool(handle)`
   * shares its budget and endpoint health (docs/threaded.md); it holds no password in clear.
   * @returns The handle (structured-cloneable).
   * @throws {PoolShareError} The pool is not threaded, was ended, or had its endpoints replaced.
   * @example Share a pool's budget with a Worker
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ type: "threaded", db: "postgres://localhost/app", groups: { default: { connection_count: 6 } } });
   * new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" }).postMessage(pool.share());
   * ```
   */
  share(): PoolHandle {
    return this.#s.share();
  }

  /**
   * Opens every group's `connection_count` sessions now, spread over the endpoints.
   * @returns When every group holds its sessions.
   * @throws {OfflineError | ConnectionError} Some group could not open them all (those opened stay); a login refused.
   * @example Fail at startup when a server is down
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * await defaultPool().open();
   * ```
   */
  open(): Promise<void> {
    return this.#s.open();
  }

  /**
   * Sets a group's `connection_count` on the running pool (docs/live_reconfiguration.md).
   * @param group The group name.
   * @param connectionCount The new size.
   * @throws {UnconfiguredGroupError | PoolClosedError | RangeError} Unknown group; pool ended;
   *   `connectionCount` is not a whole number ≥ 1.
   * @example Grow a group for a batch
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * defaultPool().resize("default", 8);
   * ```
   */
  resize(group: string, connectionCount: number): void {
    this.#s.resize(group, connectionCount);
  }

  /**
   * Replaces the sessions of `group` (of all groups without one) unseen by callers (docs/live_reconfiguration.md).
   * @param group The group name; all groups when absent.
   * @throws {UnconfiguredGroupError | PoolClosedError} Unknown group; the pool was ended.
   * @example Drain after rotating the password
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * defaultPool().drain();
   * ```
   */
  drain(group?: string): void {
    this.#s.drain(group);
  }

  /**
   * Swaps the endpoints (any shape `db` takes) without dropping work in flight (docs/live_reconfiguration.md).
   * @param db The new endpoints.
   * @throws {ConfigError | PoolClosedError} `db` is invalid, sets a pool-wide setting, or lacks
   *   an id a group is bound to (then nothing changed); the pool was ended.
   * @example Move to another server
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * defaultPool().setEndpoints("postgres://app@db2/app");
   * ```
   */
  setEndpoints(db: PoolConfigInput["db"]): void {
    this.#s.setEndpoints(db);
  }

  /**
   * Delivers the notifications of `channel` to `onNotify` over one dedicated session per
   * pool, which reconnects after a loss (docs/listen.md).
   * @param channel The channel, as NOTIFY names it (quoted as an identifier here).
   * @param onNotify Called with the payload and `{ channel, pid }`; what it throws is ignored.
   * @param options Abort signal and timeout of the wait for the LISTEN (default: `acquireTimeoutMs`).
   * @returns An async function that stops this delivery.
   * @throws {ListenUnsupportedError | TypeError | RangeError | OfflineError | AcquireTimeoutError | PoolClosedError}
   *   See docs/listen.md. Also the signal's reason, when it aborts first.
   * @example React to a job queued in another process
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * const unlisten = await defaultPool().listen("jobs", (payload) => console.log(payload));
   * ```
   */
  listen(
    channel: string,
    onNotify: OnNotify,
    options?: LeaseOptions,
  ): Promise<() => Promise<void>> {
    return this.#s.listen(channel, onNotify, options);
  }

  /**
   * Ends the pool: new leases fail with {@linkcode PoolClosedError}, leased handlers get
   * `endTimeoutMs` to come back, then every session is closed. Again: the same promise.
   * @returns When every session is closed.
   * @example End the pool when the process shuts down
   * ```ts
   * import { defaultPool } from "@x/pgdbpool"; // the Pool of init(), or of DATABASE_URL
   * await defaultPool().end();
   * ```
   */
  end(): Promise<void> {
    return this.#s.end();
  }

  /** Same as {@linkcode Pool.end}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.end();
  }
}

/**
 * Builds a pool. No I/O happens until the first lease.
 * @param config The configuration (see `PoolConfigInput`), or a handle from `pool.share()`.
 * @param options The clock, for tests; the driver of a pool built from a handle.
 * @returns The pool.
 * @throws {ConfigError} When the configuration is invalid.
 * @example Two endpoint objects and two groups
 * ```ts
 * import { createPool } from "@x/pgdbpool";
 * createPool({ db: [{ host: "db1", user: "app" }, { host: "db2", user: "app" }], groups: { web: { connection_count: 10 }, jobs: { connection_count: 2 } } });
 * ```
 */
export function createPool(config: PoolConfigInput | PoolHandle, options?: PoolOptions): Pool {
  return new Pool(config, options);
}
