/**
 * What "a secret shows" means in a test: in any rendering of a value (String,
 * JSON, the runtimes' inspect, an error's message, stack, own properties and
 * causes), any part of it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";

const runtime = globalThis as {
  Bun?: { inspect(v: unknown, o?: object): string };
  Deno?: { inspect(v: unknown, o?: object): string };
};

/**
 * Every way a value can be printed or serialised: String, JSON, the runtimes' inspect, and every
 * string along an error's causes.
 *
 * @example
 * ```ts ignore
 * assert.ok(!renderings(err).some((t) => t.includes(secret)));
 * ```
 */
export function renderings(value: unknown): string[] {
  const out: string[] = [];
  const attempt = (fn: () => unknown): void => {
    try {
      const text = fn();
      if (typeof text === "string") out.push(text);
    } catch (err) {
      // A rendering that throws shows nothing, but its error might.
      out.push(String((err as Error)?.message));
    }
  };
  attempt(() => String(value));
  attempt(() => JSON.stringify(value));
  attempt(() => inspect(value, { showHidden: true, depth: 20, getters: true }));
  attempt(() => inspect(value, { depth: 20, colors: false }));
  if (runtime.Deno !== undefined) {
    const deno = runtime.Deno;
    attempt(() => deno.inspect(value, { showHidden: true, depth: 20, getters: true }));
  }
  if (runtime.Bun !== undefined) {
    const bun = runtime.Bun;
    attempt(() => bun.inspect(value, { depth: 20 }));
  }
  // Errors: every message, stack and own property along the cause chain.
  const seen = new Set<unknown>();
  const visit = (e: unknown): void => {
    if (e === null || typeof e !== "object" || seen.has(e)) return;
    seen.add(e);
    for (const key of Reflect.ownKeys(e)) {
      let v: unknown;
      try {
        v = (e as Record<PropertyKey, unknown>)[key];
      } catch {
        continue;
      }
      if (typeof v === "string") out.push(v);
      else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
    }
    if (e instanceof Error) {
      out.push(e.message, e.stack ?? "", String(e));
      visit(e.cause);
      if (e instanceof AggregateError) e.errors.forEach(visit);
    }
  };
  visit(value);
  return out;
}

/**
 * Fails, quoting the rendering, when any of `needles` (parts of a secret) shows in `value`.
 *
 * @example A pool's stats
 * ```ts ignore
 * assertHidden(pool.stats(), "stats()", [PART_A, PART_B]);
 * ```
 */
export function assertHidden(value: unknown, where: string, needles: readonly string[]): void {
  for (const text of renderings(value)) {
    for (const needle of needles) {
      if (text.includes(needle)) {
        assert.fail(`the password shows in ${where}:\n${text.slice(0, 4000)}`);
      }
    }
  }
}

/**
 * The error `promise` rejects with (fails if it resolves).
 *
 * @example
 * ```ts ignore
 * const err = await rejection(pool.query("SELECT 1"));
 * ```
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.fail("expected a rejection");
}
