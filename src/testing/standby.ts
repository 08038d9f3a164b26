/**
 * Hot standbys streaming from an embedded primary. The embedded binaries have
 * no `pg_basebackup`: the primary's data directory is copied cold (a fast
 * shutdown, `cp -a`, start again) and each copy is configured as a standby
 * (`standby.signal`, `primary_conninfo`).
 *
 * @module
 */

import fs from "node:fs";
import path from "node:path";
import { adminQuery } from "./admin_sql.ts";
import { copyDir, sleep } from "./processes.ts";
import type { ServerProcess } from "./server_process.ts";

const STREAMING_TIMEOUT_MS = 30_000;

/**
 * Starts `standbys` (fresh servers of the primary's workspace, not yet
 * created) as hot standbys streaming from `primary`, and waits until each
 * one streams. The primary is stopped for a moment while it is copied. On
 * failure, every standby is deleted.
 *
 * @throws {Error} When a copy, a start, or the streaming fails.
 */
export async function startStandbys(
  primary: ServerProcess,
  standbys: readonly ServerProcess[],
): Promise<void> {
  if (standbys.length === 0) return;
  await primary.stop();
  let copied: PromiseSettledResult<void>[];
  try {
    copied = await Promise.allSettled(standbys.map((s) => copyDir(primary.dataDir, s.dataDir)));
  } finally {
    await primary.start();
  }
  const failed = copied.find((r): r is PromiseRejectedResult => r.status === "rejected");
  try {
    if (failed) throw failed.reason;
    await Promise.all(standbys.map((s) => s.create(() => configure(primary, s))));
    await waitStreaming(primary, standbys);
  } catch (err) {
    await Promise.allSettled(standbys.map((s) => s.dispose()));
    throw err;
  }
}

/**
 * Promotes a standby (`pg_promote()`, waiting until it is done).
 *
 * @throws {Error} When the server is no standby or does not finish promotion in time.
 */
export async function promoteStandby(standby: ServerProcess): Promise<void> {
  const [row] = await adminQuery(standby, "SELECT pg_promote(true, 30) AS done");
  if (row?.done !== true) throw new Error(`pg_promote() on port ${standby.port} did not finish`);
}

function configure(primary: ServerProcess, standby: ServerProcess): Promise<void> {
  const at = (f: string): string => path.join(standby.dataDir, f);
  fs.rmSync(at("postmaster.pid"), { force: true });
  fs.writeFileSync(at("standby.signal"), "");
  const conninfo = `host=${primary.host} port=${primary.port} user=${primary.user} ` +
    `password=${quoteConninfo(primary.password)} application_name=${standby.name}`;
  // postgresql.conf reads backslash escapes and doubled quotes inside a quoted value.
  fs.appendFileSync(
    at("postgresql.auto.conf"),
    `primary_conninfo = '${
      conninfo.replaceAll("\\", "\\\\").replaceAll("'", "''")
    }'\nhot_standby = on\n`,
  );
  const runAs = standby.workspace.runAs;
  if (runAs) {
    for (const f of ["standby.signal", "postgresql.auto.conf"]) {
      fs.chownSync(at(f), runAs.uid, runAs.gid);
    }
  }
  return Promise.resolve();
}

/** A libpq conninfo value in quotes: any password survives. */
function quoteConninfo(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** Polls the primary's `pg_stat_replication` until every standby streams. */
async function waitStreaming(primary: ServerProcess, standbys: readonly ServerProcess[]) {
  const names = standbys.map((s) => s.name);
  const deadline = Date.now() + STREAMING_TIMEOUT_MS;
  while (true) {
    const rows = await adminQuery(
      primary,
      "SELECT application_name AS name FROM pg_stat_replication WHERE state = 'streaming'",
    );
    const streaming = new Set(rows.map((r) => r.name));
    if (names.every((n) => streaming.has(n))) return;
    if (Date.now() > deadline) {
      throw new Error(
        `standbys ${
          names.filter((n) => !streaming.has(n)).join(", ")
        } not streaming after ${STREAMING_TIMEOUT_MS} ms`,
      );
    }
    await sleep(50);
  }
}
