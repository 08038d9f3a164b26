/**
 * What a running pool does behind the documented methods of `Pool`: the
 * lease entry points, the refusals once it was ended, live reconfiguration,
 * the listen session, and the end. `Pool` keeps the signatures and their
 * documentation; each of its methods is one call here.
 *
 * @module
 */
import type { PoolConfigInput } from "./config/normalize.ts";
import { PoolClosedError, PoolShareError, UnconfiguredGroupError } from "./errors.ts";
import { closeGroups, groupStats } from "./groups/build.ts";
import { openGroups } from "./groups/open_groups.ts";
import { drainGroups, resizeGroup, swapEndpoints } from "./reconfig/live.ts";
import type { Listener, OnNotify } from "./listen/listener.ts";
import type { LeaseGroup } from "./groups/group.ts";
import type { Handler } from "./handler/handler.ts";
import { runWithHandler } from "./handler/run_once.ts";
import { leaseWatched } from "./handler/after_lease.ts";
import { acquireOptions, type LeaseOptions } from "./handler/lease_options.ts";
import type { PoolStats } from "./pool_types.ts";
import type { PoolParts } from "./pool_parts.ts";
import type { PoolHandle } from "./threaded/handle.ts";

/** The state and behaviour of one pool, from its parts to its end. */
export class PoolState {
  readonly #p: PoolParts;
  #closed = false;
  #ended: Promise<void> | undefined;
  #listener: Listener | undefined;
  // A handle carries the endpoints and passwords the pool was built with.
  #swapped = false;

  /**
   * Takes over a pool's parts; no I/O.
   *
   * @param parts What the pool was built from.
   */
  constructor(parts: PoolParts) {
    this.#p = parts;
  }

  /** See `Pool.withHandler`. */
  withHandler<T>(
    group: string,
    fn: (db: Handler) => T | Promise<T>,
    options: LeaseOptions | undefined,
  ): Promise<T> {
    try {
      const g = this.#group(group);
      const opts = acquireOptions(options, this.#p.defaultAcquire);
      // The stack is taken before the first await, while the caller's frames are on it.
      return runWithHandler(g, fn, opts, this.#p.watch, this.#p.watch.stackHere());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** See `Pool.lease`. */
  lease(group: string, options: LeaseOptions | undefined): Promise<Handler> {
    try {
      const g = this.#group(group);
      const opts = acquireOptions(options, this.#p.defaultAcquire);
      // Not async: a queued caller then costs one promise (see leaseWatched).
      return leaseWatched(g, opts, this.#p.watch, this.#p.watch.stackHere());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** See `Pool.stats`. */
  stats(): PoolStats {
    const stats: PoolStats = {
      groups: groupStats(this.#p.groups),
      endpoints: this.#p.endpoints.stats(),
    };
    if (this.#p.threaded) stats.shared = this.#p.threaded.stats();
    return stats;
  }

  /** See `Pool.share`. */
  share(): PoolHandle {
    if (this.#p.threaded && this.#swapped) {
      throw new PoolShareError(
        "Cannot share the pool: setEndpoints() replaced its endpoints, and a handle carries those it was built with; share it before setEndpoints(), or build a new threaded pool",
      );
    }
    if (this.#p.threaded) return this.#p.threaded.share();
    throw new PoolShareError(
      'Cannot share the pool: its type is "non-threaded"; create it with type: "threaded"',
    );
  }

  /** See `Pool.open`. */
  open(): Promise<void> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    return openGroups(this.#p.groups.byName, this.#p.defaultAcquire.timeoutMs);
  }

  /** See `Pool.resize`. */
  resize(group: string, connectionCount: number): void {
    if (this.#closed) throw new PoolClosedError();
    resizeGroup(this.#group(group), connectionCount);
  }

  /** See `Pool.drain`. */
  drain(group: string | undefined): void {
    if (this.#closed) throw new PoolClosedError();
    drainGroups(group === undefined ? this.#p.groups.byName.values() : [this.#group(group)]);
  }

  /** See `Pool.setEndpoints`. */
  setEndpoints(db: PoolConfigInput["db"]): void {
    if (this.#closed) throw new PoolClosedError();
    swapEndpoints(this.#p.groups, this.#p.endpoints, db, this.#listener);
    this.#swapped = true;
  }

  /** See `Pool.listen`. */
  listen(
    channel: string,
    onNotify: OnNotify,
    options: LeaseOptions | undefined,
  ): Promise<() => Promise<void>> {
    try {
      if (this.#closed) throw new PoolClosedError();
      const opts = acquireOptions(options, this.#p.defaultAcquire);
      // Loaded on the first listen: a pool that never listens does not pay for the code.
      return Promise.all([import("./listen/listener.ts"), import("./listen/bounded.ts")])
        .then(([{ Listener }, { boundedListen }]) => {
          // The import gave end() and the caller's signal a turn.
          if (this.#closed) throw new PoolClosedError();
          opts.signal?.throwIfAborted();
          const { endpoints, listenPing, events } = this.#p;
          const listener = this.#listener ??= new Listener(endpoints, listenPing, events);
          const pending = listener.listen(channel, onNotify);
          return boundedListen(pending, channel, opts, this.#p.endpoints.clock);
        });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** See `Pool.end`. */
  end(): Promise<void> {
    this.#closed = true;
    this.#p.watch.stop();
    // Connects in flight serve nobody now: aborted, so no socket or timer outlives end().
    this.#p.endpoints.end();
    // A threaded pool's row (and any slot still counted) goes back once its sessions are closed.
    const { groups, endTimeoutMs, threaded } = this.#p;
    return this.#ended ??= Promise.all([closeGroups(groups, endTimeoutMs), this.#listener?.close()])
      .then(() => {})
      .finally(() => threaded?.leave());
  }

  // The groups never change after the build: the last one looked up is kept (most
  // callers name the same group again, and a Map lookup cost ~3% of a lease).
  #lastName: string | undefined;
  #last: LeaseGroup | undefined;
  #group(name: string): LeaseGroup {
    if (name === this.#lastName) return this.#last!;
    const g = this.#p.groups.byName.get(name);
    if (g) {
      this.#lastName = name;
      return this.#last = g;
    }
    if (this.#closed) throw new PoolClosedError();
    throw new UnconfiguredGroupError(name, [...this.#p.groups.byName.keys()]);
  }
}
