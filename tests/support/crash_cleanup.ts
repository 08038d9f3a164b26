/**
 * Clean-up after test processes that crashed: a killed test process leaves
 * its servers running and its workspace folder behind. (A live process
 * cleans up after itself: see `src/testing/workspace.ts`.)
 *
 * @module
 */

import fs from "node:fs";
import path from "node:path";
import { cmdline, isAlive, quitSync, readPidFile } from "../../src/testing/processes.ts";
import { STOP_TIMEOUT_MS, WORKSPACE_PREFIX } from "../../src/testing/workspace.ts";

/**
 * Deletes the workspace folders under `parent` whose owning process is gone,
 * first stopping every postmaster still running in them.
 *
 * @param parent The folder holding workspaces (`PGDBPOOL_TEST_TMPDIR`).
 */
export function sweepDeadHarnesses(parent: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(parent).filter((e) => e.startsWith(WORKSPACE_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = path.join(parent, entry);
    let owner = NaN;
    try {
      owner = Number(fs.readFileSync(path.join(dir, "owner.pid"), "utf8").trim());
    } catch { /* not ours, or still being created */ }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    quitSync(postmastersUnder(dir), STOP_TIMEOUT_MS);
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch { /* best effort */ }
  }
}

/** Pids of the postmasters running on data directories under `dir`. */
function postmastersUnder(dir: string): number[] {
  const pids: number[] = [];
  const visit = (d: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === "postmaster.pid") {
        const status = readPidFile(path.join(d, e.name));
        // Only a process whose command line names this directory (guards against pid reuse).
        if (status && isAlive(status.pid) && cmdline(status.pid).includes(d)) pids.push(status.pid);
      } else if (e.isDirectory() && depth < 3 && !e.name.startsWith("pg_") && e.name !== "base") {
        visit(path.join(d, e.name), depth + 1);
      }
    }
  };
  visit(dir, 0);
  return pids;
}
