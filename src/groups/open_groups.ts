/**
 * `pool.open()`: every group opens its `connection_count` sessions up front,
 * as the Python module's `Connection.init` did, and a group that cannot is
 * reported as offline.
 *
 * @module
 */
import { isLoginRefused, OfflineError } from "../errors.ts";
import type { LeaseGroup } from "./group.ts";

/**
 * Opens every group's sessions, all groups at once.
 *
 * @param groups The groups by name.
 * @param timeoutMs How long a group may take.
 * @throws {ConnectionError} A server refused the login (wrong password, missing role or database).
 * @throws {OfflineError} Some group could not open all its sessions; `cause` says why.
 */
export async function openGroups(
  groups: ReadonlyMap<string, LeaseGroup>,
  timeoutMs: number,
): Promise<void> {
  const results = await Promise.allSettled(
    [...groups.values()].map((g) => g.open(timeoutMs)),
  );
  const names = [...groups.keys()];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") return;
    const err = r.reason;
    if (err instanceof OfflineError || isLoginRefused(err)) throw err;
    const s = groups.get(names[i])!.stats();
    throw new OfflineError(
      `Cannot open group "${names[i]}": ${s.total} of its sessions are open: ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    );
  });
}
