/**
 * The waiting list of a pipelined group: callers that found no session open
 * yet wait there, within their timeout, signal and the group's `maxWaiting`.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import { WaitList } from "../core/wait_list.ts";
import type { GroupConfig } from "../config/normalize.ts";
import { AcquireTimeoutError, PoolOverloadedError } from "../errors.ts";

/**
 * Builds the list with the group's errors.
 *
 * @param name The group's name.
 * @param config Its config (`maxWaiting`).
 * @param clock The clock.
 * @param state The group's state for error messages (`total=…, leased=…`).
 * @returns The waiting list.
 */
export function firstSessionWaiters<T>(
  name: string,
  config: GroupConfig,
  clock: Clock,
  state: () => string,
): WaitList<T> {
  return new WaitList<T>(
    clock,
    (ms) =>
      new AcquireTimeoutError(
        `Cannot lease from group "${name}": no session opened within ${ms} ms (${state()})`,
      ),
    config.maxWaiting,
    () => new PoolOverloadedError(name, config.maxWaiting, state()),
  );
}
