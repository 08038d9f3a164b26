/**
 * The groups of a pool, each of the kind its config asks for, and the one
 * place that closes their sessions (so `end()` can wait for every close).
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { Budget } from "../core/resource_pool_types.ts";
import type { GroupStats } from "../pool_types.ts";
import { PoolObserver } from "../observe/observer.ts";
import { Housekeeper, sweepPeriod } from "../core/housekeeper.ts";
import type { EndpointConfig, PoolConfig } from "../config/normalize.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointSet } from "../endpoints/endpoint_set.ts";
import { Group } from "./exclusive_group.ts";
import type { LeaseGroup } from "./group.ts";
import { PipelinedGroup } from "./pipelined_group.ts";

// How long past query_timeout a reply may still come before the network counts as dead.
const QUERY_GRACE_MS = 1000;

/** A pool's groups and the closes still in flight. */
export interface Groups {
  /** The groups by name. */
  readonly byName: Map<string, LeaseGroup>;
  /** Session closes not yet settled (they never reject). */
  readonly closing: Set<Promise<void>>;
  /** The pool's one housekeeping timer (limits, stalls, clock leaps), armed on the first session. */
  readonly housekeeper: Housekeeper;
  /** Extends the per-endpoint deadlines to an endpoint `pool.setEndpoints()` added. */
  readonly endpointAdded: (endpoint: EndpointConfig) => void;
}

/**
 * Builds every group of `config`; no I/O.
 *
 * @param config The pool's config.
 * @param endpoints The pool's endpoints.
 * @param clock The clock.
 * @param onLeap Told of a clock leap the housekeeping tick saw (milliseconds).
 * @param observer Where groups report sessions, waits and timings.
 * @param budgetOf Each group's budget shared with other isolates (threaded pools).
 * @returns The groups and the set of closes in flight.
 */
export function buildGroups(
  config: PoolConfig,
  endpoints: EndpointSet,
  clock: Clock,
  onLeap?: (leapMs: number) => void,
  observer: PoolObserver = new PoolObserver(undefined, clock),
  budgetOf?: (group: string) => Budget | undefined,
): Groups {
  const closing = new Set<Promise<void>>();
  const close = (connection: DriverConnection) => {
    const closed: Promise<void> = connection.close().catch(() => {}).finally(() =>
      closing.delete(closed)
    );
    closing.add(closed);
    return closed;
  };
  const byName = new Map<string, LeaseGroup>();
  const { pingAfterIdleMs, pingTimeoutMs, idleTimeoutMs, maxLifetimeMs } = config;
  // A query without a reply within query_timeout (which the server enforces) and a grace.
  const queryMs = config.endpoints.map((e) =>
    e.queryTimeoutMs > 0 ? e.queryTimeoutMs + QUERY_GRACE_MS : 0
  );
  // One timer for the whole pool, armed when the first session opens.
  const period = sweepPeriod(
    idleTimeoutMs,
    maxLifetimeMs,
    Math.min(...queryMs.filter((ms) => ms > 0)),
  );
  // Sweeps sample progress: a stall is seen up to one period late, never early.
  const stallMs = queryMs.map((ms) => ms > 0 ? ms + period : 0);
  const housekeeper = new Housekeeper(
    clock,
    period,
    (now) => {
      for (const g of byName.values()) g.sweep(now, idleTimeoutMs);
    },
    (leapMs) => {
      endpoints.leap(leapMs);
      for (const g of byName.values()) g.leap?.(leapMs);
      onLeap?.(leapMs);
    },
  );
  const opened = () => housekeeper.start();
  const shared = {
    endpoints,
    clock,
    close,
    opened,
    pingAfterIdleMs,
    pingTimeoutMs,
    maxLifetimeMs,
    stallMs,
    setupMs: config.endpoints.map((e) => e.connectTimeoutMs),
    observer,
  };
  for (const [name, group] of Object.entries(config.groups)) {
    const Kind = group.pipeline ? PipelinedGroup : Group;
    byName.set(name, new Kind(name, group, shared, budgetOf?.(name)));
  }
  const endpointAdded = (e: EndpointConfig) => {
    const ms = e.queryTimeoutMs > 0 ? e.queryTimeoutMs + QUERY_GRACE_MS : 0;
    stallMs.push(ms > 0 ? ms + period : 0);
    shared.setupMs.push(e.connectTimeoutMs);
  };
  return { byName, closing, housekeeper, endpointAdded };
}

/**
 * Ends every group: stops the housekeeping, gives leased sessions `graceMs`
 * to come back, closes every session and waits for the closes.
 *
 * @param groups The pool's groups.
 * @param graceMs How long leased sessions may take to come back.
 * @returns When every session is closed.
 */
export async function closeGroups(groups: Groups, graceMs: number): Promise<void> {
  groups.housekeeper.stop();
  await Promise.all([...groups.byName.values()].map((g) => g.close(graceMs)));
  await Promise.all(groups.closing);
}

/**
 * Each group's gauges and counters.
 *
 * @param groups The pool's groups.
 * @returns A fresh snapshot per group name.
 */
export function groupStats(groups: Groups): Record<string, GroupStats> {
  const stats: Record<string, GroupStats> = {};
  for (const [name, g] of groups.byName) stats[name] = g.stats();
  return stats;
}
