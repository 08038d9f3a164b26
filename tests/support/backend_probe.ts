/**
 * What an integration test asks the server and the pool while it attacks
 * them: the backends a pool holds (found by its `application_name`), a kill
 * of all of them, a poll with a deadline that names what it waited for, and
 * a warm-up that opens every session of a group.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Pool } from "../../mod.ts";
import { adminQuery, type TestServer } from "./servers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

/**
 * A fresh `application_name` (word characters only), so a test finds its
 * pool's backends and no one else's. Keep `prefix` short: the server cuts
 * names at 63 bytes.
 *
 * @example A pool whose backends the test can find
 * ```ts ignore
 * const app = appName(`atk_pick_${name}`);
 * const pool = createPool({ db: endpointOf(server, { application_name: app }) });
 * ```
 */
export function appName(prefix: string): string {
  return `${prefix}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
}

/**
 * The pids of the backends connected with `app` as their `application_name`.
 *
 * @example The sessions a pool has open on the server
 * ```ts ignore
 * assert.ok((await backendPids(server, app)).length <= 3);
 * ```
 */
export async function backendPids(server: TestServer, app: string): Promise<number[]> {
  const rows = await adminQuery(
    server,
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
    [app],
  );
  return rows.map((r) => Number(r.pid));
}

/**
 * Terminates every backend connected with `app` as its `application_name`.
 *
 * @example Every session of a pool killed at once
 * ```ts ignore
 * await terminateBackends(server, app);
 * ```
 */
export async function terminateBackends(server: TestServer, app: string): Promise<void> {
  await adminQuery(
    server,
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    [app],
  );
}

/** How long {@linkcode until} polls, and how often. */
export interface UntilOptions {
  /** Fail after this long. @default 4000 */
  withinMs?: number;
  /** Wait this long between two checks (0: none, when the check itself takes time). @default 20 */
  everyMs?: number;
}

/**
 * Polls `check` until it holds; fails with `never happened: <what>` if it
 * still does not at the deadline (checked once more then). `what` may be a
 * function, for a message that shows the state at the deadline.
 *
 * @example Wait for a pool's backends to go
 * ```ts ignore
 * await until("no backend left", async () => (await backendPids(server, app)).length === 0);
 * ```
 */
export async function until(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  { withinMs = 4000, everyMs = 20 }: UntilOptions = {},
): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (everyMs > 0) await sleep(everyMs);
  }
  if (await check()) return;
  assert.fail(`never happened within ${withinMs} ms: ${typeof what === "string" ? what : what()}`);
}

/**
 * Opens every session of `group`: bursts of `2 * size` short queries, one
 * after the other, until the group has `size` sessions and none still
 * opening (within 4 s).
 *
 * @example Three sessions open before the attack
 * ```ts ignore
 * await warm(pool, 3);
 * ```
 */
export async function warm(pool: Pool, size: number, group = "default"): Promise<void> {
  // No pause between two bursts: each one takes a moment on the server already.
  await until(`${group}: ${size} sessions open`, async () => {
    await Promise.all(
      Array.from({ length: 2 * size }, () => pool.query("SELECT pg_sleep(0.01)", [], { group })),
    );
    const g = pool.stats().groups[group];
    // `total` counts a session still opening too: wait for it to be in the list.
    return g.total === size && g.pending === 0;
  }, { everyMs: 0 });
}
