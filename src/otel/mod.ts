/**
 * OpenTelemetry metrics for a pgdbpool pool, under the database-client
 * semantic conventions' names, one connection pool per group
 * (`db.client.connection.pool.name` is the group's name):
 *
 * | metric                                   | instrument                | unit           |
 * | ---------------------------------------- | ------------------------- | -------------- |
 * | `db.client.connection.count`             | observable up-down counter, `db.client.connection.state` = `idle` / `used` | `{connection}` |
 * | `db.client.connection.max`               | observable up-down counter | `{connection}` |
 * | `db.client.connection.pending_requests`  | observable up-down counter | `{request}`    |
 * | `db.client.connection.timeouts`          | observable counter        | `{timeout}`    |
 * | `db.client.connection.wait_time`         | histogram                 | `s`            |
 * | `db.client.connection.create_time`       | histogram                 | `s`            |
 * | `db.client.connection.use_time`          | histogram                 | `s`            |
 *
 * Gauges and counters are read from `pool.stats()` when the SDK collects;
 * the histograms get one value per lease (wait, use) and per session opened.
 * The pool's core does not depend on OpenTelemetry: only this entry point does.
 *
 * @example Export a pool's metrics through the global meter provider
 * ```ts
 * import { createPool } from "@x/pgdbpool";
 * import { instrumentPool } from "@x/pgdbpool/otel";
 *
 * const pool = createPool({ db: "postgres://localhost/app", groups: { web: { connection_count: 10 } } });
 * const metrics = instrumentPool(pool); // the global MeterProvider's meter "@x/pgdbpool"
 * // … later, to stop reporting:
 * metrics.stop();
 * ```
 *
 * @module
 */
import {
  type Attributes,
  type BatchObservableResult,
  type Histogram,
  type Meter,
  metrics,
  type Observable,
} from "@opentelemetry/api";
import { eventSinkOf, PoolEventTarget } from "../observe/event_target.ts";

/** The instrumentation scope of the default meter. */
export const METER_NAME = "@x/pgdbpool";

// The semantic conventions' advice for database client durations, in seconds.
const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

const POOL_NAME = "db.client.connection.pool.name";
const STATE = "db.client.connection.state";

/** The gauges and counters of one group that the metrics read (a `GroupStats` has them all). */
export interface InstrumentedGroupStats {
  /** Most sessions at once. */
  max: number;
  /** Sessions open or being opened. */
  total: number;
  /** Sessions being opened. */
  pending: number;
  /** Sessions open and not in use. */
  idle: number;
  /** Callers queued for a session. */
  waiting: number;
  /** Leases that timed out in the queue, since the start. */
  timedOut: number;
}

/** What {@linkcode instrumentPool} reads of a pool: a `Pool` from `createPool()`. */
export interface InstrumentedPool extends EventTarget {
  /** The pool's stats, per group. */
  stats(): { groups: Record<string, InstrumentedGroupStats> };
}

/**
 * An OpenTelemetry `Meter` (from `@opentelemetry/api`, or an SDK's
 * `MeterProvider.getMeter()`): the methods the metrics call.
 */
export interface MeterLike {
  /** Creates a histogram (`Meter.createHistogram`). */
  createHistogram(name: string, options?: object): unknown;
  /** Creates an observable counter (`Meter.createObservableCounter`). */
  createObservableCounter(name: string, options?: object): unknown;
  /** Creates an observable up-down counter (`Meter.createObservableUpDownCounter`). */
  createObservableUpDownCounter(name: string, options?: object): unknown;
  /** Adds a batch callback (`Meter.addBatchObservableCallback`). */
  addBatchObservableCallback(callback: never, observables: never): void;
  /** Removes a batch callback (`Meter.removeBatchObservableCallback`). */
  removeBatchObservableCallback(callback: never, observables: never): void;
}

/** Options of {@linkcode instrumentPool}. */
export interface InstrumentPoolOptions {
  /**
   * The meter the instruments are created on.
   * @default {metrics.getMeter("@x/pgdbpool")}
   */
  meter?: MeterLike;
  /**
   * The `db.client.connection.pool.name` of a group: unique within the
   * application (prefix it when several pools share group names).
   * @default {the group's name}
   */
  poolName?: (group: string) => string;
}

/** What {@linkcode instrumentPool} returns: stops the reporting. */
export interface PoolInstrumentation {
  /** Stops reporting: the callbacks and per-lease samples end (the instruments stay registered). */
  stop(): void;
  /** Same as {@linkcode PoolInstrumentation.stop}, for `using`. */
  [Symbol.dispose](): void;
}

/**
 * Reports a pool's metrics to OpenTelemetry with the database-client
 * semantic-convention names (see the module documentation), one pool per group.
 *
 * @param pool The pool, from `createPool()`.
 * @param options The meter and the pool name of each group.
 * @returns A handle whose `stop()` ends the reporting.
 * @throws {TypeError} `pool` is not a pool made by `createPool()`.
 *
 * @example Metrics on a meter of your own provider
 * ```ts
 * import { MeterProvider } from "@opentelemetry/sdk-metrics";
 * import { createPool } from "@x/pgdbpool";
 * import { instrumentPool } from "@x/pgdbpool/otel";
 *
 * const provider = new MeterProvider();
 * const pool = createPool({ db: "postgres://localhost/app", groups: { web: { connection_count: 10 } } });
 * instrumentPool(pool, {
 *   meter: provider.getMeter("app"),
 *   poolName: (group) => `app.${group}`,
 * });
 * ```
 */
export function instrumentPool(
  pool: InstrumentedPool,
  options: InstrumentPoolOptions = {},
): PoolInstrumentation {
  if (!(pool instanceof PoolEventTarget)) {
    throw new TypeError("instrumentPool() takes a pool made by createPool()");
  }
  // A MeterLike is a Meter: it is typed loosely only to keep OpenTelemetry's types out of ours.
  const meter = (options.meter ?? metrics.getMeter(METER_NAME)) as Meter;
  const attributes = groupAttributes(options.poolName ?? ((group) => group));
  const count = meter.createObservableUpDownCounter("db.client.connection.count", {
    unit: "{connection}",
    description:
      "The number of connections that are currently in the state described by the state attribute.",
  });
  const max = meter.createObservableUpDownCounter("db.client.connection.max", {
    unit: "{connection}",
    description: "The maximum number of open connections allowed.",
  });
  const pending = meter.createObservableUpDownCounter("db.client.connection.pending_requests", {
    unit: "{request}",
    description: "The number of current pending requests for an open connection.",
  });
  const timeouts = meter.createObservableCounter("db.client.connection.timeouts", {
    unit: "{timeout}",
    description:
      "The number of connection timeouts that have occurred trying to obtain a connection from the pool.",
  });
  const observables: Observable[] = [count, max, pending, timeouts];
  const observe = (result: BatchObservableResult) => {
    for (const [group, s] of Object.entries(pool.stats().groups)) {
      const a = attributes(group);
      result.observe(count, s.idle, a.idle);
      result.observe(count, s.total - s.pending - s.idle, a.used);
      result.observe(max, s.max, a.pool);
      result.observe(pending, s.waiting, a.pool);
      result.observe(timeouts, s.timedOut, a.pool);
    }
  };
  meter.addBatchObservableCallback(observe, observables);
  const seconds = (name: string, description: string): Histogram =>
    meter.createHistogram(name, {
      unit: "s",
      description,
      advice: { explicitBucketBoundaries: BUCKETS },
    });
  const waitTime = seconds(
    "db.client.connection.wait_time",
    "The time it took to obtain an open connection from the pool.",
  );
  const createTime = seconds(
    "db.client.connection.create_time",
    "The time it took to create a new connection.",
  );
  const useTime = seconds(
    "db.client.connection.use_time",
    "The time between borrowing a connection and returning it to the pool.",
  );
  const detach = eventSinkOf(pool).attach({
    waited: (group, ms) => waitTime.record(ms / 1000, attributes(group).pool),
    used: (group, ms) => useTime.record(ms / 1000, attributes(group).pool),
    connected: (group, ms) => createTime.record(ms / 1000, attributes(group).pool),
  });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    detach();
    meter.removeBatchObservableCallback(observe, observables);
  };
  return { stop, [Symbol.dispose]: stop };
}

interface GroupAttributes {
  readonly pool: Attributes;
  readonly idle: Attributes;
  readonly used: Attributes;
}

// Built once per group: a sample allocates no attribute object.
function groupAttributes(poolName: (group: string) => string): (group: string) => GroupAttributes {
  const known = new Map<string, GroupAttributes>();
  return (group) => {
    let a = known.get(group);
    if (a === undefined) {
      const pool = { [POOL_NAME]: poolName(group) };
      a = { pool, idle: { ...pool, [STATE]: "idle" }, used: { ...pool, [STATE]: "used" } };
      known.set(group, a);
    }
    return a;
  };
}
