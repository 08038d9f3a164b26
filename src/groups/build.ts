/**
 * The groups of a pool, each of the kind its config asks for, and the one
 * place that closes their sessions (so `end()` can wait for every close).
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { PoolConfig } from "../config/normalize.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointSet } from "../endpoints/endpoint_set.ts";
import { Group } from "./exclusive_group.ts";
import type { LeaseGroup } from "./group.ts";
import { PipelinedGroup } from "./pipelined_group.ts";

/** A pool's groups and the closes still in flight. */
export interface Groups {
  /** The groups by name. */
  readonly byName: Map<string, LeaseGroup>;
  /** Session closes not yet settled (they never reject). */
  readonly closing: Set<Promise<void>>;
}

/**
 * Builds every group of `config`; no I/O.
 *
 * @param config The pool's config.
 * @param endpoints The pool's endpoints.
 * @param clock The clock.
 * @returns The groups and the set of closes in flight.
 */
export function buildGroups(config: PoolConfig, endpoints: EndpointSet, clock: Clock): Groups {
  const closing = new Set<Promise<void>>();
  const close = (connection: DriverConnection) => {
    const closed: Promise<void> = connection.close().catch(() => {}).finally(() =>
      closing.delete(closed)
    );
    closing.add(closed);
  };
  const { pingAfterIdleMs, pingTimeoutMs } = config;
  const shared = { endpoints, clock, close, pingAfterIdleMs, pingTimeoutMs };
  const byName = new Map<string, LeaseGroup>();
  for (const [name, group] of Object.entries(config.groups)) {
    byName.set(
      name,
      group.pipeline
        ? new PipelinedGroup(name, group, endpoints, close, clock)
        : new Group(name, group, shared),
    );
  }
  return { byName, closing };
}
