/**
 * How a pipelined group picks the session for a new lease: the one with the
 * fewest holders, ties going round the sessions; on the way, sessions that
 * died or whose server changed role leave the rotation.
 *
 * @module
 */
import type { EndpointScope } from "../endpoints/endpoint_set.ts";
import type { SessionCloseReason as Why } from "../observe/events.ts";
import type { Shared } from "../handler/shared_handler.ts";

/** What the pick tells its group: a session to take out of rotation. */
export interface RotationOwner {
  /** Takes a session out of rotation and closes it. */
  broken(shared: Shared, why?: Why): void;
}

/** The rotation over a pipelined group's sessions (its cursor). */
export class LeastBusy {
  #cursor = 0;

  /**
   * The session a new lease should share; sessions found dead or unfit are
   * handed to `owner.broken` (an unfit one once nobody holds a share).
   *
   * @param list The group's open sessions.
   * @param scope The group's endpoints and target.
   * @param owner The group.
   * @returns The least busy fitting session, if any.
   */
  pick(list: Shared[], scope: EndpointScope, owner: RotationOwner): Shared | undefined {
    const n = list.length;
    let best: Shared | undefined;
    let unfit: Shared[] | undefined;
    for (let k = 0; k < n; k++) {
      const s = list[(this.#cursor + k) % n];
      if (s.connection.closed || s.retire) continue;
      if (scope.checksRole && !scope.fits(s.endpoint, s.connection)) {
        // Its server changed role: out of rotation, and closed once nobody holds a share.
        if (s.holders === 0) (unfit ??= []).push(s);
        continue;
      }
      if (!best || s.holders < best.holders) best = s;
      if (best.holders === 0) break;
    }
    // Sessions that died since: out of rotation, their slots free again.
    if (list.some((s) => s.connection.closed)) {
      for (const s of list.filter((s) => s.connection.closed)) owner.broken(s);
    }
    if (unfit) { for (const s of unfit) owner.broken(s, "role-changed"); }
    if (list.length > 0) this.#cursor = (this.#cursor + 1) % list.length;
    return best;
  }
}
