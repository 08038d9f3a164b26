/**
 * One run of `withHandler`: lease, `fn`, commit or roll back, release.
 *
 * @module
 */
import type { AcquireOptions } from "../core/resource_pool.ts";
import type { LeaseGroup } from "../groups/group.ts";
import type { Handler } from "./handler.ts";
import type { LeaseWatch } from "./lease_watch.ts";
import { raceAbort } from "./race_abort.ts";
import { withRetry } from "./retry.ts";

/**
 * `withHandler` on a group: one run, or up to the group's `retry` more when
 * its transaction failed in a way that is safe to run again.
 *
 * @param g The group.
 * @param fn The caller's work.
 * @param opts The caller's timeout and signal.
 * @param watch The pool's lease watch.
 * @param stack The caller's stack for leak reports, taken before any await.
 * @returns What `fn` returned.
 * @throws What the last run threw.
 */
export const runWithHandler: typeof runOnce = (g, fn, opts, watch, stack) => {
  if (g.retry === 0) return runOnce(g, fn, opts, watch, stack);
  return withRetry(
    g.retry,
    opts.signal,
    (wrap) => runOnce(g, (db) => fn(wrap(db)), opts, watch, stack),
  );
};

/**
 * Leases a handler of `g`, runs `fn` with it, commits (or rolls back when
 * `fn` throws) and releases it.
 *
 * @param g The group.
 * @param fn The caller's work.
 * @param opts The caller's timeout and signal.
 * @param watch The pool's lease watch.
 * @param stack The caller's stack for leak reports, taken before any await.
 * @returns What `fn` returned.
 * @throws What the lease, `fn` or the commit threw; the signal's reason when it aborts.
 */
async function runOnce<T>(
  g: LeaseGroup,
  fn: (db: Handler) => T | Promise<T>,
  opts: AcquireOptions,
  watch: LeaseWatch,
  stack: string | undefined,
): Promise<T> {
  const got = g.lease(opts);
  const handler = got instanceof Promise ? await got : got;
  if (stack !== undefined) handler.watchWith(watch, stack);
  if (opts.signal?.aborted) {
    // The caller gave up while the lease completed: fn never runs.
    await handler.finish(false);
    throw opts.signal.reason;
  }
  let result: T;
  try {
    result = opts.signal ? await raceAbort(fn(handler), opts.signal, handler) : await fn(handler);
  } catch (err) {
    await handler.finish(false);
    throw err;
  }
  const finishing = handler.finish(true);
  if (finishing) await finishing;
  return result;
}
