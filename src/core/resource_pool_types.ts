/**
 * The types of the generic resource pool: an entry, what its owner provides,
 * and its stats.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Progress } from "./housekeeper.ts";

/** A resource with the bookkeeping the pool keeps for it. */
export interface PoolEntry<R> extends Progress {
  /** The resource itself. */
  readonly resource: R;
  /** Which partition it belongs to. */
  readonly partition: number;
  /** Clock time of creation. */
  readonly createdAt: number;
  /**
   * Clock time it was last handed out or created; the owner keeps it up to
   * date (the core reads no clock per lease).
   */
  lastUsed: number;
  /** Whether a holder has it. */
  leased: boolean;
  /** Set when it is past its lifetime: destroyed at release instead of reused. */
  retire: boolean;
  /** Clock time past which it is retired (its lifetime, jittered); Infinity: never. */
  expiresAt: number;
  /** Clock time of the last sweep that found it leased (idle time counts from then too). */
  busyAt: number;
  /** The owner's own per-resource data (the pool never reads it). */
  owned?: unknown;
}

/**
 * Why the pool destroys a resource on its own: idle too long, past its
 * lifetime, the pool closed, unusable (the default when its owner names no
 * reason), or rebalanced (its slot of a shared budget goes to a caller in
 * another isolate), or reconfigured (resized, drained, or its endpoint
 * removed). Owners may pass reasons of their own (`ResourcePool`'s `Why`).
 */
export type CoreDropReason =
  | "idle-timeout"
  | "lifetime"
  | "pool-ended"
  | "broken"
  | "rebalanced"
  | "reconfigured";

/** A freshly created resource and the partition it ended up on. */
export interface Created<R> {
  /** The resource. */
  resource: R;
  /** The partition it belongs to (may differ from the one asked for, after a failover). */
  partition: number;
}

/** Counters and gauges of a {@linkcode ResourcePool}. */
export interface ResourcePoolStats {
  /** Most resources open at once (the current limit). */
  max: number;
  /** Resources open or being opened. */
  total: number;
  /** Resources ready in the idle set. */
  idle: number;
  /** Resources held by callers. */
  leased: number;
  /** Callers queued for a resource. */
  waiting: number;
  /** Resources being opened. */
  pending: number;
  /** Successful acquires since the start. */
  acquired: number;
  /** Acquires that had to queue. */
  waited: number;
  /** Acquires that timed out in the queue. */
  timedOut: number;
  /** Acquires turned away at once because `maxWaiting` callers already waited. */
  rejected: number;
  /** Resources opened. */
  created: number;
  /** Resource openings that failed. */
  createFailed: number;
  /** Resources destroyed. */
  destroyed: number;
}

/** What the pool needs from its owner (`Why`: the owner's reasons to destroy a resource). */
export interface ResourcePoolOptions<R, Why extends string = CoreDropReason> {
  /** Most resources open at once (pending ones count). */
  max: number;
  /** Number of partitions (≥ 1). */
  partitions: number;
  /** The partition to use next, in rotation; `-1` when none can take a new resource now. */
  nextPartition(): number;
  /** Opens a resource, preferably on `partition` (`-1`: any). Rejections reach the caller. */
  create(partition: number): Promise<Created<R>>;
  /**
   * After a failed create, whether queued callers keep waiting for a release
   * (until their own timeout) rather than take the error, while the pool
   * still holds live resources. Default: never.
   */
  keepsWaiting?(err: unknown): boolean;
  /**
   * Disposes of a resource of `partition`, destroyed for `reason`. Must not
   * throw. A promise returned says when it is gone (a budget slot comes back then).
   */
  destroy(resource: R, partition: number, reason: Why | CoreDropReason): unknown;
  /** The clock. */
  clock: Clock;
  /**
   * Retire a resource after this age, less a random jitter of up to 10% so
   * that resources opened together do not all retire together; 0: never.
   */
  maxLifetimeMs?: number;
  /** The error for a caller that waited `timeoutMs` in vain. */
  timeoutError(timeoutMs: number): Error;
  /** Most callers queued at once; past it an acquire fails at once. Default: unbounded. */
  maxWaiting?: number;
  /** The error for an acquire past `maxWaiting`. */
  overloadedError?(): Error;
  /** The error for acquiring from a closed pool. */
  closedError(): Error;
  /** A budget shared with pools elsewhere (other isolates); `undefined`: only `max` limits. */
  budget?: Budget;
}

/**
 * A budget of resources shared with pools elsewhere (a threaded pool's other
 * isolates): each resource open or being opened holds one slot.
 */
export interface Budget {
  /** Takes a slot for a resource about to open; `false`: none now (the user's `refill` is called when one may be). */
  tryTake(): boolean;
  /** Returns the slot of a resource that failed to open, or closed (once `closing` settles). */
  give(closing?: unknown): void;
  /** Whether a resource coming back should close instead, so that its slot serves a caller elsewhere. */
  yields(): boolean;
  /** Connects the pool that draws on the budget. */
  attach(user: BudgetUser): void;
}

/** What a {@linkcode Budget} asks of the pool that draws on it. */
export interface BudgetUser {
  /** Callers waiting whom no resource being opened will serve. */
  waiting(): number;
  /** Resources open or being opened. */
  held(): number;
  /** Resources being opened. */
  opening(): number;
  /** A slot may be free: open resources for waiting callers. */
  refill(): void;
  /** Closes one idle resource for a caller elsewhere; `false`: none was idle. */
  shed(): boolean;
}
