/**
 * What `pool.setEndpoints(db)` changes, decided before anything changes: which
 * endpoints stay (same id and same settings; a new password is taken), which
 * are added and which are removed. Endpoint indexes only ever grow: a removed
 * endpoint keeps its index, takes no new sessions, and its sessions retire.
 *
 * @module
 */
import type { EndpointConfig } from "../config/normalize.ts";
import { ConfigError } from "../errors.ts";

/** One endpoint of the set today. */
export interface CurrentEndpoint {
  /** Its configuration. */
  readonly config: EndpointConfig;
  /** Removed by an earlier swap. */
  readonly removed: boolean;
}

/** A group bound to endpoint ids (`groups.<g>.endpoints`). */
export interface Binding {
  /** The group. */
  readonly group: string | undefined;
  /** The ids it is bound to; `undefined`: every endpoint. */
  readonly ids: readonly string[] | undefined;
}

/** The swap to apply. */
export interface SwapPlan {
  /** Index of an endpoint that stays → its new configuration (same settings; maybe a new password). */
  readonly keep: ReadonlyMap<number, EndpointConfig>;
  /** Endpoints to add, in the order given. */
  readonly add: readonly EndpointConfig[];
  /** Indexes of the endpoints to remove. */
  readonly remove: ReadonlySet<number>;
}

/**
 * Plans a swap to `next`.
 *
 * @param current The set's endpoints, by index.
 * @param next The new list (normalised).
 * @param bindings The groups bound to endpoint ids.
 * @returns The plan.
 * @throws {ConfigError} A group is bound to an id the new list lacks (nothing changes then).
 */
export function planSwap(
  current: readonly CurrentEndpoint[],
  next: readonly EndpointConfig[],
  bindings: readonly Binding[],
): SwapPlan {
  const nextIds = new Set(next.map((e) => e.id));
  for (const { group, ids } of bindings) {
    const missing = ids?.filter((id) => !nextIds.has(id)) ?? [];
    if (missing.length > 0) {
      throw new ConfigError(
        `groups.${group}.endpoints`,
        `expected every bound endpoint id in the new endpoint list, but ${
          missing.map((id) => JSON.stringify(id)).join(", ")
        } is missing: keep it in the list, or build a new pool for the new binding`,
      );
    }
  }
  const keep = new Map<number, EndpointConfig>();
  const add: EndpointConfig[] = [];
  const remove = new Set<number>();
  const live = new Map<string, number>();
  current.forEach((e, i) => {
    if (!e.removed) live.set(e.config.id, i);
  });
  for (const config of next) {
    const at = live.get(config.id);
    if (at !== undefined && sameSettings(current[at].config, config)) keep.set(at, config);
    else add.push(config);
  }
  for (const at of live.values()) if (!keep.has(at)) remove.add(at);
  return { keep, add, remove };
}

// Everything but the password (which is not on the object): a change of host,
// database, user or a session setting makes it another endpoint.
function sameSettings(a: EndpointConfig, b: EndpointConfig): boolean {
  const keys = Object.keys(a) as (keyof EndpointConfig)[];
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
