/**
 * Catches what escapes a test: unhandled rejections and uncaught exceptions,
 * on Deno (window events), Bun and Node (process events), so a test can
 * assert that none happened instead of the runtime dying.
 *
 * @module
 */

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
