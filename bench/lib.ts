/**
 * Shared helpers of the benchmark: runtime detection, statistics, CPU and heap
 * probes, an instant fake driver and the minimal reference pool.
 *
 * Runs under Deno, Bun and (bundled) Node.
 *
 * @module
 */
import process from "node:process";
import type { Driver, DriverConnection, DriverResult, ReplySettler } from "../src/driver.ts";

/** The runtime this process runs on. */
export type Runtime = "deno" | "bun" | "node";

/** Which runtime runs this code. */
export const runtime: Runtime = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : "node";

/** Microseconds of CPU (user + system) this process has used. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Value at quantile `q` (0..1) of an ascending sorted array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Median of numbers (NaN for none). */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Parses `--key=value` and `--flag` arguments. */
export function parseArgs(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of argv) {
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq < 0) out[a.slice(2)] = "true";
    else out[a.slice(2, eq)] = a.slice(eq + 1);
  }
  return out;
}

/** Command-line arguments after the script, on any runtime. */
export function scriptArgs(): string[] {
  return process.argv.slice(2);
}

/** Forces a full garbage collection when the runtime exposes it; returns whether it could. */
export function fullGc(): boolean {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    g.gc();
    return true;
  }
  return false;
}

let jscHeapSize: (() => number) | undefined;

/** Loads what {@linkcode heapUsed} needs (bun:jsc on Bun). */
export async function initHeapProbe(): Promise<void> {
  if (runtime === "bun") {
    const jsc = await import("bun:jsc" as string) as { heapSize(): number };
    jscHeapSize = jsc.heapSize;
  }
}

/** Bytes of JS heap in use. Call {@linkcode initHeapProbe} first on Bun. */
export function heapUsed(): number {
  if (jscHeapSize) return jscHeapSize();
  return process.memoryUsage().heapUsed;
}

/** A resolved promise per call, like a driver whose server answered at once. */
export interface FakeConnection extends DriverConnection {
  readonly id: number;
}

const RESULT: DriverResult = Object.freeze({
  rows: [{ "?column?": 1 }],
  rowCount: 1,
  command: "SELECT",
}) as DriverResult;

let nextId = 0;

/** A fresh fake connection whose queries resolve immediately. */
export function fakeConnection(): FakeConnection {
  return {
    id: nextId++,
    closed: false,
    parameters: {},
    // Its reply is there at once, so it passes through the pool's settler at once.
    settlesReplies: true,
    query: (_text: string, _params?: readonly unknown[], settler?: ReplySettler) =>
      Promise.resolve(settler === undefined ? RESULT : settler.ok(RESULT)),
    close: () => Promise.resolve(),
  };
}

/**
 * The instant fake driver: `connect` resolves with a fresh fake connection
 * (or one from `stock`, when given, so heap probes can allocate them beforehand).
 */
export function instantDriver(stock?: FakeConnection[]): Driver {
  return {
    name: "instant",
    connect: () => Promise.resolve(stock?.pop() ?? fakeConnection()),
  };
}

/**
 * The minimal reference pool of the core microbench: an idle stack, a size
 * limit and a FIFO of waiters (a head index instead of `Array.shift`). A
 * released resource goes straight to the oldest waiter, so no caller is
 * overtaken and no resource is handed to two holders.
 */
export class ReferencePool<T> {
  readonly #idle: T[] = [];
  #waiters: (((r: T) => void) | undefined)[] = [];
  #head = 0;
  #size = 0;
  constructor(readonly max: number, readonly create: () => Promise<T>) {}

  /** A resource: idle, new (under `max`) or after the waiters ahead. */
  acquire(): Promise<T> {
    const r = this.#idle.pop();
    if (r !== undefined) return Promise.resolve(r);
    if (this.#size < this.max) {
      this.#size++;
      return this.create();
    }
    return new Promise<T>((resolve) => this.#waiters.push(resolve));
  }

  /** Gives `r` to the oldest waiter, or back to the idle stack. */
  release(r: T): void {
    if (this.#head === this.#waiters.length) return void this.#idle.push(r);
    const w = this.#waiters[this.#head]!;
    this.#waiters[this.#head++] = undefined;
    if (this.#head === this.#waiters.length) (this.#waiters = []), (this.#head = 0);
    else if (this.#head >= 4096 && this.#head * 2 >= this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
    w(r);
  }
}
