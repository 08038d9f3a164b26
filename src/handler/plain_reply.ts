/**
 * Callbacks made once per session instead of closures per lease: the two
 * that settle a statement with nothing to track (most statements: counted
 * answered, a failure translated), and the two that end a `withHandler` run
 * (commit and release after `fn`, or roll back and rethrow).
 *
 * One handler holds a session at a time, and release waits for its replies,
 * so the holder a callback reads is the current one; it is let go as soon as
 * it is done with (the entry must not keep a released handler alive).
 *
 * @module
 */
import type { PoolEntry } from "../core/resource_pool.ts";
import type { DriverConnection, DriverResult } from "../driver.ts";
import type { Lease } from "./session_lease.ts";

/** A session's shared callbacks and who they currently act for. */
export interface SessionCallbacks {
  /** The handler whose plain statements are in flight. */
  holder: Lease | undefined;
  ok(result: DriverResult): DriverResult;
  failed(err: unknown): never;
  /** The handler whose `fn` is running under `withHandler`. */
  runner: Lease | undefined;
  fnDone(result: unknown): unknown;
  fnFailed(err: unknown): Promise<never>;
}

/**
 * The session's callbacks, made at first use.
 *
 * @param entry The session's entry (it keeps them).
 * @returns Them; set `holder` before each statement, `runner` before each run.
 */
export function callbacksOf(entry: PoolEntry<DriverConnection>): SessionCallbacks {
  const known = entry.owned as SessionCallbacks | undefined;
  if (known !== undefined) return known;
  const c: SessionCallbacks = {
    holder: undefined,
    ok: (result) => {
      const h = c.holder!;
      if (entry.busy === 1) c.holder = undefined;
      h.answered();
      return result;
    },
    failed: (err) => {
      const h = c.holder!;
      if (entry.busy === 1) c.holder = undefined;
      const failure = h.failure(err);
      h.answered();
      throw failure;
    },
    runner: undefined,
    fnDone: (result) => {
      const h = c.runner!;
      c.runner = undefined;
      const finishing = h.finish(true);
      return finishing ? finishing.then(() => result) : result;
    },
    fnFailed: (err) => {
      const h = c.runner!;
      c.runner = undefined;
      return rollBackAndThrow(h, err);
    },
  };
  entry.owned = c;
  return c;
}

/**
 * Rolls back and releases, then rejects with `err`.
 *
 * @param handler The handler.
 * @param err What `fn` threw (or the signal's reason).
 * @returns Never: rejects with `err`.
 */
export async function rollBackAndThrow(
  handler: { finish(commit: boolean): Promise<void> | undefined },
  err: unknown,
): Promise<never> {
  await handler.finish(false);
  throw err;
}
