/**
 * A generic resource pool that knows nothing of SQL: acquire, release and
 * destroy over resources spread across partitions (for the PostgreSQL layer,
 * one partition per endpoint), with a FIFO of waiters, a size limit and stats.
 *
 * Lease is synchronous when an idle resource is at hand: no promise, no timer.
 *
 * @module
 */
import type { Clock, TimerHandle } from "./clock.ts";
import { type WaiterNode, WaiterQueue } from "./waiter_queue.ts";

/** A resource with the bookkeeping the pool keeps for it. */
export interface PoolEntry<R> {
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
}

/** A freshly created resource and the partition it ended up on. */
export interface Created<R> {
  /** The resource. */
  resource: R;
  /** The partition it belongs to (may differ from the one asked for, after a failover). */
  partition: number;
}

/** Counters and gauges of a {@linkcode ResourcePool}. */
export interface ResourcePoolStats {
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
  /** Resources opened. */
  created: number;
  /** Resource openings that failed. */
  createFailed: number;
  /** Resources destroyed. */
  destroyed: number;
}

/** What the pool needs from its owner. */
export interface ResourcePoolOptions<R> {
  /** Most resources open at once (pending ones count). */
  max: number;
  /** Number of partitions (≥ 1). */
  partitions: number;
  /** The partition to use next, in rotation; `-1` when none can take a new resource now. */
  nextPartition(): number;
  /** Opens a resource, preferably on `partition` (`-1`: any). Rejections reach the caller. */
  create(partition: number): Promise<Created<R>>;
  /** Disposes of a resource of `partition`. Must not throw. */
  destroy(resource: R, partition: number): void;
  /** The clock. */
  clock: Clock;
  /** The error for a caller that waited `timeoutMs` in vain. */
  timeoutError(timeoutMs: number): Error;
  /** The error for acquiring from a closed pool. */
  closedError(): Error;
}

/** Per-acquire options. */
export interface AcquireOptions {
  /** Cancels the wait; the acquire rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Longest wait in the queue, in milliseconds. */
  timeoutMs: number;
}

// setTimeout's largest delay (2^31 - 1 ms).
const MAX_TIMER_MS = 2_147_483_647;

interface Waiter<R> {
  resolve(entry: PoolEntry<R>): void;
  reject(err: unknown): void;
  /** Clock time at which it times out (Infinity: never). */
  deadline: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The pool. */
export class ResourcePool<R> {
  readonly #opts: ResourcePoolOptions<R>;
  readonly #idle: PoolEntry<R>[][] = [];
  readonly #waiters = new WaiterQueue<Waiter<R>>();
  // One timer for the whole queue, armed for the earliest deadline: a waiter
  // costs no timer of its own.
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  // Every live entry (changes only on create and drop, never per lease), so
  // close() can find the leased ones; per lease only the flag and a count move.
  readonly #live = new Set<PoolEntry<R>>();
  #leasedCount = 0;
  #idleCount = 0;
  #total = 0;
  #pending = 0;
  #closed = false;
  #drained: (() => void) | undefined;
  readonly #stats = {
    acquired: 0,
    waited: 0,
    timedOut: 0,
    created: 0,
    createFailed: 0,
    destroyed: 0,
  };

  /**
   * Builds an empty pool; it opens resources lazily.
   *
   * @param opts Limits and the owner's hooks.
   */
  constructor(opts: ResourcePoolOptions<R>) {
    this.#opts = opts;
    for (let i = 0; i < opts.partitions; i++) this.#idle.push([]);
  }

  /** Whether {@linkcode ResourcePool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Leases a resource: an idle one on the next partition in rotation; else a
   * new one there while under `max`; else any idle one; else waits in FIFO order.
   *
   * @param options Timeout and abort signal for the wait.
   * @returns The entry, synchronously when one was idle.
   * @throws The closed error when the pool is closed.
   */
  acquire(options: AcquireOptions, front = false): PoolEntry<R> | Promise<PoolEntry<R>> {
    if (this.#closed) throw this.#opts.closedError();
    const partition = this.#opts.nextPartition();
    const underMax = this.#total < this.#opts.max;
    if (partition >= 0) {
      const entry = this.#idle[partition].pop();
      if (entry) return this.#lease(entry);
    }
    if (!underMax || partition < 0) {
      const entry = this.#popAnyIdle(partition);
      if (entry) return this.#lease(entry);
    }
    // Opening a resource is waiting too: the caller's timeout, signal and
    // close() apply, and whoever is first in line gets the result.
    const waiting = this.#wait(options, front, !underMax);
    if (underMax) this.#refill(partition);
    return waiting;
  }

  /**
   * Drops a leased resource found unusable (dead, failed its ping) and leases
   * another for the same caller, ahead of every queued waiter.
   *
   * @param entry The leased entry to drop.
   * @param options The caller's timeout and signal.
   * @returns Another entry.
   */
  replace(entry: PoolEntry<R>, options: AcquireOptions): PoolEntry<R> | Promise<PoolEntry<R>> {
    if (entry.leased) {
      this.#unlease(entry);
      this.#drop(entry);
    }
    return this.acquire(options, true);
  }

  /**
   * Returns a healthy resource to the pool (or straight to the oldest waiter).
   *
   * @param entry An entry from {@linkcode ResourcePool.acquire}.
   */
  release(entry: PoolEntry<R>): void {
    if (!entry.leased) return;
    this.#unlease(entry);
    if (this.#closed) {
      this.#drop(entry);
      this.#checkDrained();
      return;
    }
    this.#offer(entry);
  }

  /**
   * Destroys a resource (broken, or leased and no longer wanted); its slot is
   * refilled for a waiter if one is queued.
   *
   * @param entry An entry from {@linkcode ResourcePool.acquire} or the idle set.
   */
  destroy(entry: PoolEntry<R>): void {
    if (entry.leased) {
      this.#unlease(entry);
    } else {
      const idle = this.#idle[entry.partition];
      const at = idle.indexOf(entry);
      if (at < 0) return;
      idle.splice(at, 1);
      this.#idleCount--;
    }
    this.#drop(entry);
    if (this.#closed) this.#checkDrained();
    else this.#refill();
  }

  /**
   * The entries of the idle set, oldest first per partition (for sweeps).
   *
   * @returns A snapshot array.
   */
  idleEntries(): PoolEntry<R>[] {
    return this.#idle.flat();
  }

  /**
   * The gauges and counters.
   *
   * @returns A fresh snapshot.
   */
  stats(): ResourcePoolStats {
    return {
      total: this.#total,
      idle: this.#idleCount,
      leased: this.#leasedCount,
      waiting: this.#waiters.size,
      pending: this.#pending,
      ...this.#stats,
    };
  }

  /**
   * Closes the pool: rejects every waiter, destroys idle resources, waits up
   * to `graceMs` for leased ones to come back, then destroys those too.
   *
   * @param graceMs How long to wait for leased resources.
   * @returns When every resource is destroyed.
   */
  async close(graceMs: number): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const err = this.#opts.closedError();
      for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) this.#settle(w, err);
      this.#disarmTimer();
      for (const list of this.#idle) {
        for (const entry of list.splice(0)) this.#drop(entry);
      }
      this.#idleCount = 0;
    }
    if (this.#leasedCount > 0 || this.#pending > 0) {
      let timer: TimerHandle;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = this.#opts.clock.setTimeout(resolve, graceMs);
      });
      this.#opts.clock.clearTimeout(timer);
      this.#drained = undefined;
      // Holders that did not come back in time lose their resources.
      for (const entry of [...this.#live]) {
        if (!entry.leased) continue;
        this.#unlease(entry);
        this.#drop(entry);
      }
    }
  }

  #lease(entry: PoolEntry<R>): PoolEntry<R> {
    this.#idleCount--;
    entry.leased = true;
    this.#leasedCount++;
    this.#stats.acquired++;
    return entry;
  }

  #unlease(entry: PoolEntry<R>): void {
    entry.leased = false;
    this.#leasedCount--;
  }

  #popAnyIdle(skip: number): PoolEntry<R> | undefined {
    if (this.#idleCount === 0) return undefined;
    const lists = this.#idle;
    for (let i = 0; i < lists.length; i++) {
      if (i !== skip && lists[i].length > 0) return lists[i].pop();
    }
    return undefined;
  }

  #adopt(created: Created<R>): PoolEntry<R> {
    this.#stats.created++;
    const now = this.#opts.clock.now();
    const entry: PoolEntry<R> = {
      resource: created.resource,
      partition: created.partition,
      createdAt: now,
      lastUsed: now,
      leased: false,
    };
    this.#live.add(entry);
    return entry;
  }

  #wait(options: AcquireOptions, front: boolean, counted: boolean): Promise<PoolEntry<R>> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (counted) this.#stats.waited++;
    return new Promise<PoolEntry<R>>((resolve, reject) => {
      // Past the 32-bit limit runtimes fire timers at once: such a wait never times out.
      const timeoutMs = options.timeoutMs;
      const deadline = timeoutMs > MAX_TIMER_MS ? Infinity : this.#opts.clock.now() + timeoutMs;
      const waiter: Waiter<R> = {
        resolve,
        reject,
        deadline,
        timeoutMs,
        signal,
        onAbort: undefined,
      };
      const node: WaiterNode<Waiter<R>> = front
        ? this.#waiters.unshift(waiter)
        : this.#waiters.push(waiter);
      if (deadline < this.#timerAt) this.#armTimer(deadline);
      if (signal) {
        waiter.onAbort = () => {
          this.#waiters.remove(node);
          if (this.#waiters.size === 0) this.#disarmTimer();
          this.#settle(waiter, signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
    });
  }

  #armTimer(at: number): void {
    const clock = this.#opts.clock;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = clock.setTimeout(() => this.#expire(), Math.max(0, at - clock.now()));
  }

  #disarmTimer(): void {
    if (this.#timer !== undefined) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  // Rejects every waiter past its deadline, then re-arms for the next one.
  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#opts.clock.now();
    const expired: Waiter<R>[] = [];
    let next = Infinity;
    for (let node = this.#waiters.head; node; node = node.next) {
      if (node.value.deadline <= now) expired.push(node.value);
      else if (node.value.deadline < next) next = node.value.deadline;
    }
    // Errors are built before anyone leaves the queue, so messages count them all.
    const errors = expired.map((w) => this.#opts.timeoutError(w.timeoutMs));
    for (let node = this.#waiters.head; node;) {
      const following = node.next;
      if (node.value.deadline <= now) this.#waiters.remove(node);
      node = following;
    }
    expired.forEach((w, i) => {
      this.#stats.timedOut++;
      this.#settle(w, errors[i]);
    });
    if (next < Infinity) this.#armTimer(next);
  }

  #settle(waiter: Waiter<R>, err: unknown, entry?: PoolEntry<R>): void {
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    if (entry) waiter.resolve(entry);
    else waiter.reject(err);
  }

  // Hands an available entry to the oldest waiter, or parks it as idle.
  #offer(entry: PoolEntry<R>): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      if (this.#waiters.size === 0 && this.#timer !== undefined) this.#disarmTimer();
      entry.leased = true;
      this.#leasedCount++;
      this.#stats.acquired++;
      this.#settle(waiter, undefined, entry);
      return;
    }
    this.#idle[entry.partition].push(entry);
    this.#idleCount++;
  }

  // A slot came free while callers queue: open a resource for the oldest one.
  #refill(partition = this.#opts.nextPartition()): void {
    if (this.#waiters.size === 0 || this.#total >= this.#opts.max) return;
    this.#total++;
    this.#pending++;
    this.#opts.create(partition).then(
      (created) => {
        this.#pending--;
        const entry = this.#adopt(created);
        if (this.#closed) {
          this.#drop(entry);
          this.#checkDrained();
        } else this.#offer(entry);
      },
      (err) => {
        this.#pending--;
        this.#total--;
        this.#stats.createFailed++;
        if (this.#closed) return this.#checkDrained();
        const waiter = this.#waiters.shift();
        if (this.#waiters.size === 0) this.#disarmTimer();
        if (waiter) this.#settle(waiter, err);
        this.#refill();
      },
    );
  }

  #drop(entry: PoolEntry<R>): void {
    this.#live.delete(entry);
    this.#total--;
    this.#stats.destroyed++;
    this.#opts.destroy(entry.resource, entry.partition);
  }

  #checkDrained(): void {
    if (this.#leasedCount === 0 && this.#pending === 0) this.#drained?.();
  }
}
