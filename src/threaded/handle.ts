/**
 * The handle `pool.share()` returns: what a Worker needs to build a pool that
 * draws on the same budget and endpoint health. It is a plain object that
 * structured clone copies (`postMessage`): the normalised configuration as
 * pool input, without passwords or driver, and the pool's shared memory. The
 * passwords travel inside that memory, masked with a random pad, so neither
 * `String(handle)`, `JSON.stringify(handle)` (a `SharedArrayBuffer` is `{}`)
 * nor an inspector's first bytes of the buffer show them.
 *
 * @module
 */
import {
  passFunctionOf,
  passwordOf,
  type PoolConfig,
  type PoolConfigInput,
} from "../config/normalize.ts";
import { PoolShareError } from "../errors.ts";
import { Memory } from "./memory.ts";

const KIND = "pgdbpool.threaded-pool";

/**
 * A structured-cloneable handle on a threaded pool; post it to a Worker and
 * pass it to `createPool` there.
 */
export interface PoolHandle {
  /** Marks the object as a handle. */
  readonly kind: "pgdbpool.threaded-pool";
  /** The handle's format. */
  readonly version: 1;
  /** The pool's normalised configuration as input, without passwords or driver. */
  readonly config: PoolConfigInput;
  /** The pool's shared memory (counters, health, masked passwords). */
  readonly memory: SharedArrayBuffer;
}

/**
 * Whether `value` is a handle from `pool.share()` (after a structured clone too).
 *
 * @param value Anything.
 * @returns Whether it is a handle.
 * @throws {PoolShareError} A handle whose memory is no longer a `SharedArrayBuffer`.
 */
export function isPoolHandle(value: unknown): value is PoolHandle {
  const h = value as Partial<PoolHandle> | null;
  if (typeof h !== "object" || h === null || h.kind !== KIND) return false;
  if (typeof SharedArrayBuffer === "function" && h.memory instanceof SharedArrayBuffer) return true;
  throw new PoolShareError(
    "Cannot use the handle: its memory is not a SharedArrayBuffer (it went through JSON, to another process, or to a context without SharedArrayBuffer); post the handle itself to a Worker of the same process",
  );
}

/**
 * The secret bytes of a config: its endpoints' passwords, in order.
 *
 * @param config A normalised config.
 * @returns UTF-8 bytes of a JSON array.
 */
export function secretOf(config: PoolConfig): Uint8Array {
  const passwords = config.endpoints.map((e) => passwordOf(e) as unknown);
  // A password given as a function stays in this isolate (`handleOf` refuses to share it).
  return new TextEncoder().encode(
    JSON.stringify(passwords.map((p) => typeof p === "string" ? p : null)),
  );
}

/**
 * Builds the handle of a pool.
 *
 * @param config The pool's normalised config.
 * @param memory Its shared memory.
 * @returns The handle.
 * @throws {PoolShareError} A setting holds a function (it cannot be posted).
 */
export function handleOf(config: PoolConfig, memory: Memory): PoolHandle {
  const groups: Record<string, Record<string, unknown>> = {};
  for (const [name, group] of Object.entries(config.groups)) {
    groups[name] = cloneable(group, `groups.${name}`);
  }
  const { type: _t, endpoints, groups: _g, driver: _d, ...top } = config;
  endpoints.forEach((e, i) =>
    cloneable({ password: passFunctionOf(e) ?? passwordOf(e) as unknown }, `db[${i}]`)
  );
  return Object.freeze({
    kind: KIND,
    version: 1,
    config: {
      ...cloneable(top, ""),
      type: "threaded",
      db: endpoints.map((e, i) => {
        // The keys in milliseconds and megabytes go back to the input's units and names.
        const { connectTimeoutMs, queryTimeoutMs, sessionTmpBufferMb, ...rest } = e;
        return {
          ...cloneable(rest, `db[${i}]`),
          connectTimeout: connectTimeoutMs / 1000,
          queryTimeout: queryTimeoutMs,
          sessionTmpBuffer: sessionTmpBufferMb,
        };
      }),
      groups,
    } as PoolConfigInput,
    memory: memory.buffer,
  });
}

/**
 * The pool input a handle stands for, passwords included.
 *
 * @param handle A handle from `pool.share()`.
 * @returns The input and the mapped shared memory.
 */
export function inputOf(handle: PoolHandle): { input: PoolConfigInput; memory: Memory } {
  const memory = new Memory(handle.memory);
  const passwords = JSON.parse(new TextDecoder().decode(memory.secret())) as (string | null)[];
  const db = (handle.config.db as Record<string, unknown>[]).map((e, i) =>
    passwords[i] === null ? e : { ...e, password: passwords[i] }
  );
  return { input: { ...handle.config, db } as PoolConfigInput, memory };
}

// A copy of `source`'s fields as input keys: unbounded limits are left to
// their default, and a function (which cannot be posted) is refused.
function cloneable(source: object, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined || value === Infinity) continue;
    if (typeof value === "function") {
      throw new PoolShareError(
        `Cannot share the pool: "${
          path ? `${path}.` : ""
        }${key}" is a function, which cannot be posted to a Worker`,
      );
    }
    out[key] = value;
  }
  return out;
}
