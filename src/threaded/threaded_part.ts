/**
 * What a threaded pool adds to its parts in one isolate: the membership in
 * the shared memory (created by the first pool, mapped from a handle in a
 * Worker), each group's budget, shared endpoint health, `share()`, the shared
 * stats, and leaving at `end()`.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { Budget } from "../core/resource_pool_types.ts";
import type { PoolConfig } from "../config/normalize.ts";
import type { EndpointSet } from "../endpoints/endpoint_set.ts";
import { PoolShareError } from "../errors.ts";
import { createMemory, type Memory } from "./memory.ts";
import { Member } from "./member.ts";
import { liveRows } from "./rows.ts";
import { handleOf, type PoolHandle, secretOf } from "./handle.ts";
import { shareHealth } from "./shared_health.ts";

/** One group's budget as `pool.stats().shared` shows it. */
export interface SharedGroupStats {
  /** The group's `connection_count`, shared by every isolate. */
  budget: number;
  /** Sessions open or opening in every isolate. */
  total: number;
  /** Those of this isolate. */
  own: number;
  /** Isolates with callers waiting for a slot. */
  isolatesWaiting: number;
}

/** What `pool.stats().shared` shows in a threaded pool. */
export interface SharedStats {
  /** Isolates using the pool (not yet ended or reclaimed), this one included. */
  isolates: number;
  /** This isolate's row in the shared memory. */
  row: number;
  /** Per group: the shared totals and this isolate's own share. */
  groups: Record<string, SharedGroupStats>;
}

/** A threaded pool's shared side in one isolate. */
export interface ThreadedPart {
  /**
   * The budget of a group.
   *
   * @param group Group name.
   * @returns Its budget.
   */
  budgetOf(group: string): Budget | undefined;
  /**
   * Links the endpoints' health to the other isolates'.
   *
   * @param endpoints The pool's endpoints.
   * @param clock The pool's clock.
   */
  shareHealth(endpoints: EndpointSet, clock: Clock): void;
  /**
   * The handle to post to a Worker.
   *
   * @returns The handle.
   */
  share(): PoolHandle;
  /**
   * The shared view.
   *
   * @returns A fresh snapshot.
   */
  stats(): SharedStats;
  /** Leaves the shared memory (after every session closed). */
  leave(): void;
}

/**
 * The shared side of a pool, if its type is `"threaded"`.
 *
 * @param config The normalised config.
 * @param shared The memory of a handle, in a Worker; else a new one is made.
 * @returns The part, or `undefined` for a non-threaded pool.
 * @throws {PoolShareError} The handle's memory does not fit the config, every isolate slot is
 *   taken, or the runtime has no `SharedArrayBuffer` or `Worker`.
 */
export function threadedPart(config: PoolConfig, shared?: Memory): ThreadedPart | undefined {
  if (config.type !== "threaded") return undefined;
  if (typeof SharedArrayBuffer !== "function" || typeof Worker !== "function") {
    throw new PoolShareError(
      'Cannot build a pool of type "threaded": this runtime has no SharedArrayBuffer or Worker; use type "non-threaded"',
    );
  }
  const names = Object.keys(config.groups);
  const memory = shared ?? createMemory(
    {
      budgets: names.map((n) => config.groups[n].connectionCount),
      endpoints: config.endpoints.length,
      secretBytes: 0,
    },
    secretOf(config),
  );
  if (memory.groups !== names.length || memory.endpoints !== config.endpoints.length) {
    throw new PoolShareError("Cannot use the handle: its shared memory does not fit its config");
  }
  const member = new Member(memory);
  let left = false;
  return {
    budgetOf: (group) => member.budgets[names.indexOf(group)],
    shareHealth: (endpoints, clock) => {
      const healths = config.endpoints.map((_, i) => endpoints.health(i));
      shareHealth(member, healths, clock);
    },
    share: () => {
      if (left) throw new PoolShareError("Cannot share the pool: it has been ended");
      return handleOf(config, memory);
    },
    stats: () => {
      const groups: Record<string, SharedGroupStats> = {};
      names.forEach((n, g) => (groups[n] = member.budgets[g].stats()));
      return { isolates: liveRows(memory), row: member.row().row, groups };
    },
    leave: () => {
      left = true;
      member.leave();
    },
  };
}
