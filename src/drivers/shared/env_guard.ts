/**
 * Least privilege on Deno: postgres.js and node-postgres read libpq's variables
 * (`PGAPPNAME`, `PGPASSWORD`, `PGTARGETSESSIONATTRS`, `USER`) through
 * `process.env` even when every option is given. Under
 * `deno run --allow-env=DATABASE_URL` each read throws `NotCapable`, and a
 * running server would be reported unreachable. {@linkcode denialsAsUnset}
 * runs the driver's setup with a denied variable read as unset, as libpq would
 * see a variable that is not there.
 *
 * @module
 */

type Env = Record<string, string | undefined>;

interface DenoPermissions {
  permissions?: { querySync?(desc: { name: "env" }): { state: string } };
}

let depth = 0;
let saved: Env | undefined;

/**
 * Calls `fn(...args)` with `process.env` reading a variable that Deno's permissions deny
 * as `undefined` instead of throwing. Elsewhere (Bun, Node, Deno with full env
 * access) it only calls `fn`. The swap lasts until `fn`'s promise settles; it
 * changes nothing else: granted variables read and write through.
 *
 * @typeParam A The arguments of `fn`.
 * @typeParam T What `fn` returns.
 * @param fn The driver's setup: loading its module, building a client.
 * @param args The arguments `fn` is called with.
 * @returns What `fn` returned (a promise is awaited before the swap ends).
 */
export async function denialsAsUnset<A extends unknown[], T>(
  fn: (...args: A) => T | Promise<T>,
  ...args: A
): Promise<T> {
  const proc = (globalThis as { process?: { env: Env } }).process;
  if (!proc || !envRestricted()) return await fn(...args);
  if (depth++ === 0) {
    saved = proc.env;
    proc.env = guarded(saved);
  }
  try {
    return await fn(...args);
  } finally {
    if (--depth === 0) {
      proc.env = saved!;
      saved = undefined;
    }
  }
}

function envRestricted(): boolean {
  const deno = (globalThis as { Deno?: DenoPermissions }).Deno;
  if (!deno?.permissions?.querySync) return false;
  try {
    return deno.permissions.querySync({ name: "env" }).state !== "granted";
  } catch {
    return true;
  }
}

function isDenied(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === "NotCapable" || name === "PermissionDenied";
}

/** A view of `env` where a denied read is `undefined`; the target is a plain object, so no proxy invariant reaches the real one. */
function guarded(env: Env): Env {
  const read = <R>(fn: () => R, fallback: R): R => {
    try {
      return fn();
    } catch (err) {
      if (isDenied(err)) return fallback;
      throw err;
    }
  };
  return new Proxy<Env>({}, {
    get: (_, key) => typeof key === "string" ? read(() => env[key], undefined) : undefined,
    has: (_, key) => typeof key === "string" && read(() => key in env, false),
    set: (_, key, value) => Reflect.set(env, key, value),
    deleteProperty: (_, key) => Reflect.deleteProperty(env, key),
    ownKeys: () => read(() => Reflect.ownKeys(env), []),
    getOwnPropertyDescriptor: (_, key) => {
      const value = typeof key === "string" ? read(() => env[key], undefined) : undefined;
      return value === undefined
        ? undefined
        : { value, writable: true, enumerable: true, configurable: true };
    },
  });
}
