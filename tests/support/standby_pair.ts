/**
 * A private primary and a hot standby streaming from it, for the failover
 * tests that stop, promote, pause or cut one of them, and the pool config
 * endpoints that name them `primary` and `standby`.
 *
 * @module
 */
import type { EndpointInput } from "../../mod.ts";
import {
  adminQuery,
  type PrivateTestServer,
  type StandbyTestServer,
  startPrivateServer,
  startPrivateStandby,
} from "./servers.ts";
import { endpointOf } from "./params.ts";

/** What {@linkcode startStandbyPair.endpoints} puts on top of each endpoint. */
export interface PairEndpointOptions {
  /** Of both endpoints, in seconds (default 2). */
  connect_timeout?: number;
  /** More for the primary's endpoint, e.g. a proxy's host and port. */
  primary?: EndpointInput;
  /** More for the standby's endpoint. */
  standby?: EndpointInput;
}

/** A running primary and its standby; `dispose()` stops both. */
export interface StandbyPair {
  /** A private server. */
  readonly primary: PrivateTestServer;
  /** A hot standby streaming from `primary`. */
  readonly standby: StandbyTestServer;
  /** The endpoints `{ id: "primary" }` and `{ id: "standby" }`, in that order. */
  endpoints(options?: PairEndpointOptions): EndpointInput[];
  /** Stops the standby, then the primary. */
  dispose(): Promise<void>;
}

/**
 * Starts a private primary, runs `setupSql` on it (so the standby copies
 * what it makes), then a standby streaming from it. If the standby fails to
 * start, the primary is stopped before the error is thrown.
 *
 * @example A pool over both, closed before the servers
 * ```ts ignore
 * let pair: StandbyPair;
 * before(async () => {
 *   pair = await startStandbyPair("CREATE TABLE t (id int)");
 * });
 * after(async () => {
 *   await pool?.end();
 *   await pair?.dispose();
 * });
 * // createPool({ db: pair.endpoints(), ... })
 * ```
 */
export async function startStandbyPair(setupSql?: string): Promise<StandbyPair> {
  const primary = await startPrivateServer();
  let standby: StandbyTestServer;
  try {
    if (setupSql !== undefined) await adminQuery(primary, setupSql);
    standby = await startPrivateStandby(primary);
  } catch (err) {
    await primary.dispose();
    throw err;
  }
  return {
    primary,
    standby,
    endpoints(options = {}) {
      const connect_timeout = options.connect_timeout ?? 2;
      return [
        endpointOf(primary, { id: "primary", connect_timeout, ...options.primary }),
        endpointOf(standby, { id: "standby", connect_timeout, ...options.standby }),
      ];
    },
    async dispose() {
      await standby.dispose();
      await primary.dispose();
    },
  };
}
