/**
 * The pool's public option and stats types.
 *
 * @module
 */
import type { Clock } from "./core/clock.ts";
import type { ResourcePoolStats } from "./core/resource_pool.ts";
import type { EndpointStats } from "./endpoints/endpoint_set.ts";
import type { Driver } from "./driver.ts";
import type { SharedStats } from "./threaded/threaded_part.ts";
import type { Timings } from "./observe/timing.ts";

/** What `pool.stats()` shows of one group: gauges, counters and timings. */
export interface GroupStats extends ResourcePoolStats, Timings {}

/** What `pool.stats()` returns. */
export interface PoolStats {
  /** Per group: `total`, `idle`, `leased`, `waiting`, `pending`, counters and timings. */
  groups: Record<string, GroupStats>;
  /** Per endpoint: `host`, `port`, `connections`, `up`, failure detail and timings. */
  endpoints: EndpointStats[];
  /** A `type: "threaded"` pool: each group's budget over every isolate, and this isolate's share. */
  shared?: SharedStats;
}

/** Options for tests and embedders. */
export interface PoolOptions {
  /** The time source. @default {systemClock} */
  clock?: Clock;
  /**
   * The driver of a pool built from a handle (`pool.share()`): a driver cannot
   * be posted to a Worker. A config's own `driver` wins. @default {the runtime's default}
   */
  driver?: Driver;
}
