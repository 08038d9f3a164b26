/**
 * What a pool is built from: its normalized configuration turned into the
 * endpoint set, the groups over it and the lease watch.
 *
 * @module
 */
import { systemClock } from "./core/clock.ts";
import type { AcquireOptions } from "./core/resource_pool.ts";
import { normalizeConfig, type PoolConfigInput } from "./config/normalize.ts";
import { defaultDriver } from "./default_driver.ts";
import type { Driver } from "./driver.ts";
import { EndpointSet } from "./endpoints/endpoint_set.ts";
import { buildGroups, type Groups } from "./groups/build.ts";
import { LeaseWatch } from "./handler/lease_watch.ts";
import type { PoolOptions } from "./pool_types.ts";
import type { EventSink } from "./observe/event_target.ts";
import type { ListenPing } from "./listen/session_watch.ts";
import { PoolObserver } from "./observe/observer.ts";
import { inputOf, isPoolHandle, type PoolHandle } from "./threaded/handle.ts";
import { type ThreadedPart, threadedPart } from "./threaded/threaded_part.ts";

/** The parts of one pool. */
export interface PoolParts {
  /** The groups, by name. */
  readonly groups: Groups;
  /** The endpoints the groups share. */
  readonly endpoints: EndpointSet;
  /** The acquire options of a call that passed none. */
  readonly defaultAcquire: AcquireOptions;
  /** How long `end()` waits for leased handlers. */
  readonly endTimeoutMs: number;
  /** Leak and unreleased-handler reports. */
  readonly watch: LeaseWatch;
  /** The shared side of a `type: "threaded"` pool. */
  readonly threaded: ThreadedPart | undefined;
  /** The listen session's keep-alive. */
  readonly listenPing: ListenPing;
  /** Where the pool's events go; the listen session sends `listenlost` and `listenrestored` there. */
  readonly events: EventSink;
}

/**
 * Builds a pool's parts from its configuration. Does no I/O.
 *
 * @param input The configuration, or a handle from `pool.share()`.
 * @param options The clock, for tests; the driver of a pool built from a handle.
 * @param sink Where the pool's events (and samples) go.
 * @returns The parts.
 * @throws {ConfigError} When the configuration is invalid.
 */
export function buildPoolParts(
  input: PoolConfigInput | PoolHandle,
  options: PoolOptions,
  sink: EventSink,
): PoolParts {
  // A handle from `pool.share()` (in a Worker): the same config, on the same shared memory.
  const from = isPoolHandle(input) ? inputOf(input) : undefined;
  const config = normalizeConfig(from ? from.input : input);
  const threaded = threadedPart(config, from?.memory);
  const clock = options.clock ?? systemClock;
  const dispatch = (type: string, detail: unknown) => sink.emit(type, detail);
  const observer = new PoolObserver(sink, clock);
  const watch = new LeaseWatch({ thresholdMs: config.leakDetectionMs, clock, report: dispatch });
  const driver = config.driver ?? options.driver ?? defaultDriver();
  const endpoints = new EndpointSet(config.endpoints, {
    driver: config.allowExitOnIdle ? exitOnIdle(driver) : driver,
    clock,
    reconnectBaseMs: config.reconnectBaseMs,
    reconnectMaxMs: config.reconnectMaxMs,
    // Server notices (RAISE NOTICE, warnings) as a `notice` event; detail: DriverNotice.
    onNotice: (notice) => sink.hears("notice") && dispatch("notice", notice),
    // `endpointdown` / `endpointup`, once per outage.
    onHealth: (endpoint, up, error) => observer.health(endpoint, up, error),
  });
  threaded?.shareHealth(endpoints, clock);
  return {
    // A frozen isolate or suspended machine resumed; detail: { leapMs }.
    groups: buildGroups(
      config,
      endpoints,
      clock,
      (leapMs) => dispatch("clockleap", { leapMs }),
      observer,
      threaded?.budgetOf,
    ),
    endpoints,
    defaultAcquire: { timeoutMs: config.acquireTimeoutMs },
    endTimeoutMs: config.endTimeoutMs,
    watch,
    threaded,
    listenPing: { intervalMs: config.listenPingIntervalMs, timeoutMs: config.listenPingTimeoutMs },
    events: sink,
  };
}

// Every session the driver opens lets the process exit while it is idle.
function exitOnIdle(driver: Driver): Driver {
  return {
    name: driver.name,
    notifications: driver.notifications,
    connect: async (params) => {
      const conn = await driver.connect(params);
      conn.unrefWhenIdle?.();
      return conn;
    },
  };
}
