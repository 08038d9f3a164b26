/**
 * The pool's public option and stats types.
 *
 * @module
 */
import type { Clock } from "./core/clock.ts";
import type { ResourcePoolStats } from "./core/resource_pool.ts";
import type { EndpointStats } from "./endpoints/endpoint_set.ts";

/** What `pool.stats()` returns. */
export interface PoolStats {
  /** Per group: `total`, `idle`, `leased`, `waiting`, `pending` and counters. */
  groups: Record<string, ResourcePoolStats>;
  /** Per endpoint: `host`, `port`, `connections`, `up` and failure detail. */
  endpoints: EndpointStats[];
}

/** Options for tests and embedders. */
export interface PoolOptions {
  /** The time source. @default {systemClock} */
  clock?: Clock;
}
