/**
 * One run of `withHandler`: lease, `fn`, commit or roll back, release.
 *
 * @module
 */
import type { AcquireOptions } from "../core/resource_pool.ts";
import type { GroupHandler, LeaseGroup } from "../groups/group.ts";
import type { Handler } from "./handler.ts";
import type { LeaseWatch } from "./lease_watch.ts";
import { raceAbort } from "./race_abort.ts";
import { withRetry } from "./retry.ts";
import { rollBackAndThrow as failed } from "./plain_reply.ts";

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
function runOnce<T>(
  g: LeaseGroup,
  fn: (db: Handler) => T | Promise<T>,
  opts: AcquireOptions,
  watch: LeaseWatch,
  stack: string | undefined,
): Promise<T> {
  let got: GroupHandler | Promise<GroupHandler>;
  try {
    got = g.lease(opts);
  } catch (err) {
    return Promise.reject(err);
  }
  if (got instanceof Promise) return got.then((handler) => runFn(handler, fn, opts, watch, stack));
  return runFn(got, fn, opts, watch, stack);
}

// `fn` on a leased handler, then commit and release: plain promise steps, not an async
// function, whose frame and extra promise per call cost more than the pool itself.
function runFn<T>(
  handler: GroupHandler,
  fn: (db: Handler) => T | Promise<T>,
  opts: AcquireOptions,
  watch: LeaseWatch,
  stack: string | undefined,
): Promise<T> {
  if (stack !== undefined) handler.watchWith(watch, stack);
  const signal = opts.signal;
  // The caller gave up while the lease completed: fn never runs.
  if (signal?.aborted) return failed(handler, signal.reason);
  let work: T | Promise<T>;
  try {
    work = signal ? raceAbort(fn(handler), signal, handler) : fn(handler);
  } catch (err) {
    return failed(handler, err);
  }
  // An exclusive group's handler ends the run through callbacks kept per session.
  const settleRun = (handler as Partial<SettlesRuns>).settleRun;
  if (settleRun !== undefined) return settleRun.call(handler, work) as Promise<T>;
  return Promise.resolve(work).then((result) => {
    const finishing = handler.finish(true);
    return finishing ? finishing.then(() => result) : result;
  }, (err) => failed(handler, err));
}

/** A handler that ends a run itself (`PoolHandler`, see `session_lease.ts`). */
interface SettlesRuns {
  settleRun(work: unknown): Promise<unknown>;
}
