/**
 * Independent fault cases run at once, one test each: most of a fault case's
 * time is waiting (timeouts, sleeps on the server), so cases that use
 * separate pools and do not disturb each other run together. The first test
 * starts them all; each test then waits until every case has settled,
 * rethrows its own case's failure, and asserts that nothing escaped (as an
 * unhandled rejection or an uncaught exception) while any of them ran.
 *
 * @module
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { type EscapeWatch, watchEscapes } from "./escapes.ts";

/** A batch of cases by key; see the module documentation. */
export interface CaseBatch<K> {
  /**
   * Starts every case (on the first call), waits until all have settled,
   * then fails with `key`'s failure, or if anything escaped meanwhile.
   */
  check(key: K): Promise<void>;
  /** Removes the escape watch (call it in `after`). */
  stop(): Promise<void>;
}

/**
 * Builds a batch; nothing runs before the first {@linkcode CaseBatch.check}.
 *
 * @param cases The cases, each a key and the function that runs and asserts it.
 * @param settleMs How long to wait after the last case settled, for late escapes.
 * @param atOnce How many cases run at the same time at most (the next starts when one settles,
 *   in the order given): on a small machine too many at once starve each other's timeouts.
 * @returns The batch.
 */
export function caseBatch<K>(
  cases: readonly (readonly [K, () => Promise<void>])[],
  settleMs = 100,
  atOnce = Infinity,
): CaseBatch<K> {
  let started: { watch: EscapeWatch; runs: Map<K, Promise<void>>; all: Promise<void> } | undefined;
  const start = () => {
    const watch = watchEscapes();
    const slot = slots(atOnce);
    const runs = new Map(cases.map(([key, run]) => [key, slot(run)] as const));
    const all = Promise.allSettled(runs.values()).then(() =>
      new Promise<void>((resolve) => setTimeout(resolve, settleMs))
    );
    return { watch, runs, all };
  };
  return {
    async check(key) {
      started ??= start();
      await started.all;
      const run = started.runs.get(key);
      assert.ok(run !== undefined, `no case ${String(key)}`);
      await run;
      assert.deepEqual(started.watch.escaped.map((e) => inspect(e)), []);
    },
    async stop() {
      await started?.all;
      started?.watch.stop();
    },
  };
}

/** Runs the functions given to it, at most `n` at a time, in the order given. */
function slots(n: number): (run: () => Promise<void>) => Promise<void> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return (run) =>
    new Promise<void>((resolve, reject) => {
      const go = () => {
        running++;
        let settled: Promise<void>;
        try {
          settled = run();
        } catch (err) {
          // A case that throws at once settles like one that rejects.
          settled = Promise.reject(err);
        }
        settled.then(resolve, reject).finally(() => {
          running--;
          waiting.shift()?.();
        });
      };
      if (running < n) go();
      else waiting.push(go);
    });
}
