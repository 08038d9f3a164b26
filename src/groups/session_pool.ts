/**
 * What an exclusive group's resource pool does with sessions: open one on an
 * endpoint of the group's scope (then its `sqlprepare` and `on_connect`),
 * close one, and the errors its limits raise.
 *
 * @module
 */
import type { ResourcePoolOptions } from "../core/resource_pool.ts";
import type { Budget } from "../core/resource_pool_types.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointScope } from "../endpoints/endpoint_set.ts";
import type { GroupConfig } from "../config/normalize.ts";
import {
  type AcquireTimeoutError,
  isLoginRefused,
  PoolClosedError,
  PoolOverloadedError,
} from "../errors.ts";
import type { SessionCloseReason as Why } from "../observe/events.ts";
import type { GroupObserver } from "../observe/observer.ts";
import type { GroupOptions } from "./group.ts";
import { sessionSetup } from "./on_connect.ts";

/** The group's side of its pool's errors: the timeout's message and the state it shows. */
export interface GroupErrors {
  /** The error of a caller that waited `ms` in vain. */
  timeout(ms: number): AcquireTimeoutError;
  /** `total=…, leased=…, idle=…, waiting=…`, for messages. */
  state(): string;
}

/**
 * The options of an exclusive group's resource pool.
 *
 * @param name The group's name.
 * @param config Its size, waiting limit and session setup.
 * @param opts The pool's shared parts.
 * @param scope The group's endpoints and target.
 * @param obs Where sessions opened are reported.
 * @param errors The timeout's error and the group's state.
 * @param budget The budget shared with other isolates (threaded pools).
 * @returns The options, for `ResourcePool` (through the observer).
 */
export function sessionPoolOptions(
  name: string,
  config: GroupConfig,
  opts: GroupOptions,
  scope: EndpointScope,
  obs: GroupObserver,
  errors: GroupErrors,
  budget: Budget | undefined,
): ResourcePoolOptions<DriverConnection, Why> {
  const setUp = sessionSetup(name, config, { ...opts, scope });
  return {
    max: config.connectionCount,
    partitions: opts.endpoints.size,
    clock: opts.clock,
    maxLifetimeMs: opts.maxLifetimeMs,
    nextPartition: () => scope.next(),
    create: async (preferred) => {
      const started = opts.clock.now();
      const { connection, endpoint } = await scope.connect(preferred);
      await setUp?.({ connection, endpoint });
      opts.opened();
      obs.opened(endpoint, started);
      return { resource: connection, partition: endpoint };
    },
    // A failed handshake or an outage does not fail a queued caller while
    // the group has sessions that will come back; a refused login does.
    keepsWaiting: (err) => !isLoginRefused(err),
    destroy: (connection, partition) => {
      scope.disconnected(partition);
      return opts.close(connection);
    },
    timeoutError: (ms) => errors.timeout(ms),
    maxWaiting: config.maxWaiting,
    overloadedError: () => new PoolOverloadedError(name, config.maxWaiting, errors.state()),
    closedError: () => new PoolClosedError(),
    budget,
  };
}
