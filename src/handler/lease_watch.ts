/**
 * Leaks the user causes, made visible: a lease held longer than
 * `leakDetectionMs` is reported once with the stack of the call that leased
 * it, and a handler garbage-collected without release is reported and its
 * connection reclaimed. One coarse sweep timer, armed only while leases are
 * watched; nothing runs when leak detection is off and no `lease()` is out.
 *
 * @module
 */
import { type Clock, type TimerHandle, unrefTimer } from "../core/clock.ts";

/** `detail` of a `leak` event: a lease held longer than `leakDetectionMs`. */
export interface LeakDetail {
  /** The group leased from. */
  group: string;
  /** How long it has been held, in ms. */
  heldMs: number;
  /** Stack of the call that leased it. */
  stack: string;
}

/** `detail` of an `unreleased` event: a handler collected without release. */
export interface UnreleasedDetail {
  /** The group leased from. */
  group: string;
  /** Stack of the call that leased it, when `leakDetectionMs` is on. */
  stack: string | undefined;
}

/** One watched lease. Holds no reference to its handler, so that it can be collected. */
export interface WatchRecord {
  readonly group: string;
  readonly since: number;
  readonly stack: string | undefined;
  reported: boolean;
  /** Set on release: a late finalization callback then does nothing. */
  released: boolean;
  /** Drops the connection of a collected handler. */
  readonly reclaim: () => void;
  /** The watch it belongs to (for {@linkcode LeaseWatch.unwatch}). */
  readonly watch: LeaseWatch;
}

/** What the watch reports through. */
export interface LeaseWatchOptions {
  /** Threshold in ms; 0: only collected handlers are reported. */
  thresholdMs: number;
  /** The clock. */
  clock: Clock;
  /** Called with `"leak"` or `"unreleased"` and the detail. */
  report(type: "leak", detail: LeakDetail): void;
  /** Called for a collected handler. */
  report(type: "unreleased", detail: UnreleasedDetail): void;
}

/** Watches leases for one pool. */
export class LeaseWatch {
  readonly #opts: LeaseWatchOptions;
  readonly #records = new Set<WatchRecord>();
  readonly #registry: FinalizationRegistry<WatchRecord>;
  #timer: TimerHandle | undefined;
  /** Watches a handler leased without a stack (leak detection off): one function per pool. */
  readonly adopt = (handler: { watchWith(watch: LeaseWatch, stack: undefined): void }): void =>
    handler.watchWith(this, undefined);

  /**
   * Builds the watch; arms nothing yet.
   *
   * @param opts Threshold, clock and reporter.
   */
  constructor(opts: LeaseWatchOptions) {
    this.#opts = opts;
    this.#registry = new FinalizationRegistry((record) => {
      if (record.released) return;
      this.#records.delete(record);
      record.reclaim();
      opts.report("unreleased", { group: record.group, stack: record.stack });
    });
  }

  /** Whether held-too-long detection is on (then every lease is watched). */
  get detectsLeaks(): boolean {
    return this.#opts.thresholdMs > 0;
  }

  /**
   * The caller's stack, when leak detection is on. Taken by the pool before
   * its first `await`, so that the caller's own frames are still on it.
   *
   * @returns The stack without the pool's frames, or `undefined` when detection is off.
   */
  stackHere(): string | undefined {
    return this.detectsLeaks ? leaseStack() : undefined;
  }

  /**
   * Starts watching a lease.
   *
   * @param handler The handler given out (watched for collection only).
   * @param group Its group.
   * @param reclaim Drops its connection if the handler is collected unreleased.
   * @param stack From {@linkcode LeaseWatch.stackHere}, taken when the lease began.
   * @returns The record to pass to {@linkcode LeaseWatch.unwatch}.
   */
  watch(
    handler: object,
    group: string,
    reclaim: () => void,
    stack: string | undefined,
  ): WatchRecord {
    // Without leak detection only collection is watched: no clock, no stack, no sweep.
    const detects = this.detectsLeaks;
    const record: WatchRecord = {
      group,
      since: detects ? this.#opts.clock.now() : 0,
      stack,
      reported: false,
      released: false,
      reclaim,
      watch: this,
    };
    this.#registry.register(handler, record, record);
    if (detects) {
      this.#records.add(record);
      if (this.#timer === undefined) this.#arm();
    }
    return record;
  }

  /**
   * Stops watching a released lease.
   *
   * @param record What {@linkcode LeaseWatch.watch} returned.
   */
  unwatch(record: WatchRecord): void {
    record.released = true;
    this.#registry.unregister(record);
    if (this.detectsLeaks && this.#records.delete(record) && this.#records.size === 0) this.stop();
  }

  /** Stops the sweep (the pool ended). */
  stop(): void {
    if (this.#timer !== undefined) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    const period = Math.max(10, Math.min(1000, this.#opts.thresholdMs / 2));
    this.#timer = this.#opts.clock.setTimeout(() => this.#sweep(), period);
    unrefTimer(this.#timer);
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = this.#opts.clock.now();
    for (const r of this.#records) {
      const heldMs = now - r.since;
      if (!r.reported && heldMs >= this.#opts.thresholdMs) {
        r.reported = true;
        this.#opts.report("leak", { group: r.group, heldMs, stack: r.stack ?? "" });
      }
    }
    if (this.#records.size > 0) this.#arm();
  }
}

// The package's own source folder, as stack frames name it: a URL on Deno
// (file: or https: when served from JSR), a path on Bun and Node.
const SRC = new URL("../", import.meta.url);
const OWN_FRAMES = [SRC.href, decodeURIComponent(SRC.pathname)];

function leaseStack(): string {
  const stack = new Error("leased here").stack ?? "";
  // Drop every frame inside the pool (whichever file the lease went through):
  // the caller's frames are what matter.
  return stack.split("\n").filter((line) => !OWN_FRAMES.some((own) => line.includes(own)))
    .join("\n");
}
