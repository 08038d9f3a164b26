/**
 * Live reconfiguration of a running pool, behind `pool.resize`, `pool.drain`
 * and `pool.setEndpoints`: nothing in flight fails; sessions that no longer
 * fit retire (idle ones close now, leased ones at release) and new ones open
 * lazily, as leases need them.
 *
 * @module
 */
import { normalizeEndpoints } from "../config/normalize.ts";
import { forgetPassCalls } from "../endpoints/password.ts";
import type { EndpointSet } from "../endpoints/endpoint_set.ts";
import type { Groups } from "../groups/build.ts";
import type { LeaseGroup } from "../groups/group.ts";
import type { Listener } from "../listen/listener.ts";

/**
 * Sets a group's `connection_count`.
 *
 * @param group The group.
 * @param size The new size.
 * @throws {RangeError} `size` is not a whole number ≥ 1.
 */
export function resizeGroup(group: LeaseGroup, size: number): void {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(
      `Cannot resize group "${group.name}": expected connectionCount to be a whole number of sessions ≥ 1, got ${
        typeof size === "number" ? size : typeof size
      }`,
    );
  }
  group.resize(size);
}

/**
 * Replaces every session of the groups: idle ones close now, leased ones at
 * release, new ones open lazily (with the credentials of that moment).
 *
 * @param groups The groups to drain.
 */
export function drainGroups(groups: Iterable<LeaseGroup>): void {
  forgetPassCalls();
  for (const g of groups) g.retire(() => true);
}

/**
 * Swaps the endpoint list (see `planSwap`): endpoints added take new
 * sessions at once; sessions on removed ones retire.
 *
 * @param groups The pool's groups.
 * @param endpoints The pool's endpoint set.
 * @param db The new list, in any shape the config's `db` takes.
 * @param listener The pool's listen session, if any: it moves off a removed endpoint.
 * @throws {ConfigError} `db` is invalid, carries a pool-wide setting, or lacks
 *   an id a group is bound to; then nothing changed.
 */
export function swapEndpoints(
  groups: Groups,
  endpoints: EndpointSet,
  db: unknown,
  listener?: Listener,
): void {
  const { add, remove } = endpoints.replace(normalizeEndpoints(db));
  for (const e of add) groups.endpointAdded(e);
  if (remove.size === 0) return;
  for (const g of groups.byName.values()) g.retire((i) => remove.has(i));
  listener?.endpointsRemoved(remove);
}
