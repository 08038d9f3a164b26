/**
 * The pool's public option and stats types.
 *
 * @module
 */
import type { Clock } from "./core/clock.ts";
import type { ResourcePoolStats } from "./core/resource_pool.ts";
import type { EndpointStats } from "./endpoints/endpoint_set.ts";
import type { Timings } from "./observe/timing.ts";

/** What `pool.stats()` shows of one group: gauges, counters and timings. */
export interface GroupStats extends ResourcePoolStats, Timings {}

/** What `pool.stats()` returns. */
export interface PoolStats {
  /** Per group: `total`, `idle`, `leased`, `waiting`, `pending`, counters and timings. */
  groups: Record<string, GroupStats>;
  /** Per endpoint: `host`, `port`, `connections`, `up`, failure detail and timings. */
  endpoints: EndpointStats[];
}

/** Options for tests and embedders. */
export interface PoolOptions {
  /** The time source. @default {systemClock} */
  clock?: Clock;
}
