/**
 * Catches what escapes a test: unhandled rejections and uncaught exceptions,
 * on Deno (window events), Bun and Node (process events), so a test can
 * assert that none happened instead of the runtime dying.
 *
 * @module
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";

/** What escaped while the watch ran. */
export interface EscapeWatch {
  /** The escaped errors, in order. */
  readonly escaped: unknown[];
  /** Removes the listeners. */
  stop(): void;
}

interface DenoGlobal {
  addEventListener(type: string, fn: (e: Event) => void): void;
  removeEventListener(type: string, fn: (e: Event) => void): void;
}

/**
 * Starts watching for escapes (and keeps them from ending the process).
 *
 * @returns The watch; call `stop()` after the test.
 */
export function watchEscapes(): EscapeWatch {
  const escaped: unknown[] = [];
  if ("Deno" in globalThis) {
    const g = globalThis as unknown as DenoGlobal;
    const onRejection = (e: Event) => {
      e.preventDefault();
      escaped.push((e as PromiseRejectionEvent).reason);
    };
    const onError = (e: Event) => {
      e.preventDefault();
      escaped.push((e as ErrorEvent).error);
    };
    g.addEventListener("unhandledrejection", onRejection);
    g.addEventListener("error", onError);
    return {
      escaped,
      stop() {
        g.removeEventListener("unhandledrejection", onRejection);
        g.removeEventListener("error", onError);
      },
    };
  }
  const proc = (globalThis as unknown as {
    process: {
      on(event: string, fn: (err: unknown) => void): void;
      off(event: string, fn: (err: unknown) => void): void;
    };
  }).process;
  const record = (err: unknown) => escaped.push(err);
  proc.on("unhandledRejection", record);
  proc.on("uncaughtException", record);
  return {
    escaped,
    stop() {
      proc.off("unhandledRejection", record);
      proc.off("uncaughtException", record);
    },
  };
}

/**
 * Runs `body` under an escape watch and fails if anything escaped while it
 * ran (or within `settleMs` after, for late rejections). A failure of
 * `body` is rethrown as it is.
 *
 * @param body The test's work.
 * @param settleMs How long to wait after `body` for late escapes.
 * @returns What `body` returned.
 *
 * @example A test that must let nothing escape
 * ```ts ignore
 * it("ends cleanly", () => withoutEscapes(async () => {
 *   await pool.end();
 * }));
 * ```
 */
export async function withoutEscapes<T>(body: () => Promise<T>, settleMs = 0): Promise<T> {
  const watch = watchEscapes();
  try {
    const out = await body();
    if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
    assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
    return out;
  } finally {
    watch.stop();
  }
}
