/**
 * The pool: groups over shared endpoints; `withHandler`, `query`, `lease`, `stats`, `end`.
 *
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
 * A connection pool over one or more PostgreSQL endpoints, with named groups.
 * Build one with {@linkcode createPool}.
 *
 * It is an `EventTarget` of `CustomEvent`s, their data in `detail` (see
 * {@linkcode PoolEventMap}): `sessionopen`, `sessionclose`, `endpointdown`,
 * `endpointup`, `leasewait`, `leak` (a lease held past `leakDetectionMs`),
 * `unreleased`, `clockleap`, `notice`.
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
export class Pool extends PoolEventTarget {
  // Every method is one call: the behaviour lives in PoolState, the documentation here.
  readonly #s: PoolState;

  /**
   * Builds a pool; it connects lazily, on first lease.
   *
   * @param input The configuration, or a handle from {@linkcode Pool.share}.
   * @param options The clock, for tests; the driver of a pool built from a handle.
   * @throws {ConfigError} When the configuration is invalid.
   * @throws {PoolShareError} A handle whose pool has no isolate slot left.
   */
  constructor(input: PoolConfigInput | PoolHandle, options: PoolOptions = {}) {
    super();
    this.#s = new PoolState(buildPoolParts(input, options, eventSinkOf(this)));
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
    return this.#s.withHandler(group, fn, options);
  }

  /**
   * Runs one statement through {@linkcode Pool.withHandler} on the group `default` or `options.group`.
   *
   * @param text SQL text (`R`: the row shape).
   * @param params Values for `$1`, `$2`… (pyformat groups: an array for `%s`, an object for `%(name)s`)
   * @param options The group, abort signal and acquire timeout.
   * @returns The statement's result.
   * @throws See {@linkcode Pool.withHandler} and `Handler.query`.
   *
   * @example One statement, pg-pool style
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
   * const { rows } = await pool.query("SELECT $1::int AS n", [42]);
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
  lease(group: string, options?: LeaseOptions): Promise<Handler> {
    return this.#s.lease(group, options);
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
    return this.#s.stats();
  }

  /**
   * A handle on this `type: "threaded"` pool to post to a Worker, where
   * `createPool(handle)` builds a pool that draws on the same `connection_count`
   * per group and the same endpoint health (see docs/threaded.md). The handle
   * is structured-cloneable; its string and JSON forms hold no password.
   *
   * @returns The handle.
   * @throws {PoolShareError} The pool is not `type: "threaded"`, was ended, or
   *   had its endpoints replaced with `setEndpoints`.
   *
   * @example Share a pool's budget with a Worker
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ type: "threaded", db: "postgres://localhost/app", groups: { default: { connection_count: 6 } } });
   * const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
   * worker.postMessage(pool.share()); // the worker calls createPool(handle)
   * ```
   */
  share(): PoolHandle {
    return this.#s.share();
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
    return this.#s.open();
  }

  /**
   * Sets a group's `connection_count` on the running pool. Growing lets more
   * sessions open (queued callers get them now); shrinking closes idle
   * sessions above the new size at once and leased ones at release. See
   * docs/live_reconfiguration.md.
   *
   * @param group The group name.
   * @param connectionCount The new size.
   * @throws {UnconfiguredGroupError} Unknown group.
   * @throws {RangeError} `connectionCount` is not a whole number ≥ 1.
   * @throws {PoolClosedError} The pool was ended.
   *
   * @example Grow a group for a batch, then shrink it back
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { jobs: { connection_count: 2 } } });
   * pool.resize("jobs", 8);
   * pool.resize("jobs", 2);
   * ```
   */
  resize(group: string, connectionCount: number): void {
    this.#s.resize(group, connectionCount);
  }

  /**
   * Replaces every session of `group` (of every group without one), e.g.
   * after a credential rotation: idle sessions close now, leased ones at
   * release, and new ones open lazily with the credentials of that moment
   * (`pass` as a function is called again). No caller sees an error.
   *
   * @param group The group name; all groups when absent.
   * @throws {UnconfiguredGroupError} Unknown group.
   * @throws {PoolClosedError} The pool was ended.
   *
   * @example Drain after rotating the password
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * let password = "old";
   * const pool = createPool({
   *   db: { host: "localhost", name: "app", user: "app", pass: () => password },
   *   groups: { default: { connection_count: 4 } },
   * });
   * password = "new"; // after ALTER ROLE app PASSWORD 'new'
   * pool.drain();
   * ```
   */
  drain(group?: string): void {
    this.#s.drain(group);
  }

  /**
   * Swaps the endpoint list, in any shape the config's `db` takes, without
   * dropping work in flight: endpoints that stay (same id and settings) keep
   * their sessions (a new password applies to new sessions), new ones take
   * sessions at once, and sessions on removed ones retire (idle now, leased at
   * release). See docs/live_reconfiguration.md.
   *
   * @param db The new endpoints.
   * @throws {ConfigError} `db` is invalid, sets `connection_retry_sleep` or
   *   `target_session_attrs` (fixed when the pool was built), or lacks an id
   *   some group is bound to (`groups.<g>.endpoints`); then nothing changed.
   * @throws {PoolClosedError} The pool was ended.
   *
   * @example Move from db1 to db2
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://app@db1/app", groups: { default: { connection_count: 4 } } });
   * pool.setEndpoints("postgres://app@db2/app");
   * ```
   */
  setEndpoints(db: PoolConfigInput["db"]): void {
    this.#s.setEndpoints(db);
  }

  /**
   * Delivers the notifications of `channel` (`NOTIFY channel, 'payload'`) to
   * `onNotify`, over one dedicated session per pool, outside every group's
   * `connection_count`, opened on the first call and closed with the last
   * unlisten or `end()`. After a lost connection or a failover it reconnects
   * (with the pool's back-off) and LISTENs again; notifications sent while it
   * was away are lost. See docs/listen.md.
   *
   * @param channel The channel, as NOTIFY names it (quoted as an identifier here).
   * @param onNotify Called with the payload and `{ channel, pid }` (the sender's
   *   `pg_backend_pid()`); what it throws is ignored.
   * @param options Abort signal and timeout of the wait for the LISTEN to take
   *   effect (default: the pool's `acquireTimeoutMs`).
   * @returns An async function that stops this delivery.
   * @throws {ListenUnsupportedError} The pool's driver cannot deliver notifications (Bun.SQL, deno-postgres).
   * @throws {TypeError} The channel is not a non-empty string, or `onNotify` is not a function.
   * @throws {RangeError} The channel is longer than 63 bytes.
   * @throws {OfflineError} No server that accepts LISTEN (a primary) can be reached.
   * @throws {PoolClosedError} The pool was ended.
   * @throws {AcquireTimeoutError} The LISTEN did not take effect within `timeoutMs`.
   * @throws The signal's reason, when it aborts first.
   *
   * @example React to a job queued in another process
   * ```ts
   * import { createPool } from "@x/pgdbpool";
   * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
   * const unlisten = await pool.listen("jobs", (payload, { pid }) => console.log(payload, pid));
   * await pool.query("SELECT pg_notify('jobs', $1)", ["42"]);
   * await unlisten();
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
    return this.#s.end();
  }

  /** Same as {@linkcode Pool.end}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.end();
  }
}

/**
 * Builds a pool. No I/O happens until the first lease.
 *
 * @param config The configuration (see `PoolConfigInput`), or a handle from `pool.share()`.
 * @param options The clock, for tests; the driver of a pool built from a handle.
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
export function createPool(config: PoolConfigInput | PoolHandle, options?: PoolOptions): Pool {
  return new Pool(config, options);
}
