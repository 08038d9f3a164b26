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
import type { DriverConnection, DriverResult, ReplySettler } from "../driver.ts";
import type { Lease } from "./session_lease.ts";

/** A session's shared callbacks and who they currently act for. */
export interface SessionCallbacks extends ReplySettler {
  /** The handler whose plain statements are in flight. */
  holder: Lease | undefined;
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
 * Sends a statement that needs no tracking and settles its reply through
 * the session's callbacks (see {@linkcode sendThrough}).
 *
 * @param h The handler (counted `sent` already).
 * @param text SQL text.
 * @param params Values for `$1`, `$2`…
 * @returns The reply's result, or the translated failure.
 */
export function queryPlain(
  h: Lease,
  text: string,
  params: readonly unknown[] | undefined,
): Promise<DriverResult> {
  const c = callbacksOf(h.entry);
  c.holder = h;
  return sendThrough(h.conn, text, params, c);
}

/**
 * Sends a statement and settles its reply through `settler`, exactly once:
 * inside the driver's own reaction when it settles replies
 * (`DriverConnection.settlesReplies`), so that no promise of the pool's is
 * chained per query; else through one `then`; here, when the driver throws
 * instead of taking the query.
 *
 * @param conn The session.
 * @param text SQL text.
 * @param params Values for `$1`, `$2`…
 * @param settler Counts the reply and translates its failure.
 * @returns What the settler returned, or what it threw as a rejection.
 */
export function sendThrough(
  conn: DriverConnection,
  text: string,
  params: readonly unknown[] | undefined,
  settler: ReplySettler,
): Promise<DriverResult> {
  try {
    if (conn.settlesReplies === true) return conn.query(text, params, settler);
    return conn.query(text, params).then(settler.ok, settler.failed);
  } catch (err) {
    try {
      settler.failed(err);
    } catch (failure) {
      return Promise.reject(failure);
    }
    return Promise.reject(err);
  }
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
