/**
 * A step the pool runs on a handler as soon as a lease produces it (the lease
 * watch of `pool.lease()`), passed down to the group so that a caller who
 * waits costs one promise, not one more per step.
 *
 * @module
 */
import type { AcquireOptions } from "../core/resource_pool.ts";
import type { GroupHandler, LeaseGroup } from "../groups/group.ts";
import type { LeaseWatch } from "./lease_watch.ts";

/** Runs on a handler the moment its lease succeeds. */
export type AfterLease = (handler: GroupHandler) => void;

/**
 * Runs `after` on a handler now, or once a pending lease resolves.
 *
 * @param got The handler, or the promise of it.
 * @param after The step.
 * @returns `got`'s handler, after the step.
 */
export function applyAfter<H extends GroupHandler>(
  got: H | Promise<H>,
  after: AfterLease,
): H | Promise<H> {
  if (!(got instanceof Promise)) {
    after(got);
    return got;
  }
  return got.then((handler) => {
    after(handler);
    return handler;
  });
}

/**
 * `pool.lease()`: a handler of `g` that the lease watch follows (reported if
 * collected unreleased, or with leak detection held too long).
 *
 * @param g The group.
 * @param opts The caller's timeout and signal.
 * @param watch The pool's lease watch.
 * @param stack The caller's stack for leak reports, taken before any await.
 * @returns The handler.
 */
export function leaseWatched(
  g: LeaseGroup,
  opts: AcquireOptions,
  watch: LeaseWatch,
  stack: string | undefined,
): Promise<GroupHandler> {
  const after: AfterLease = stack === undefined
    ? watch.adopt
    : (handler) => handler.watchWith(watch, stack);
  const got = g.lease(opts, after);
  return got instanceof Promise ? got : Promise.resolve(got);
}
