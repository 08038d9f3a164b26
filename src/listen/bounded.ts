/**
 * A `pool.listen()` call bounded by the caller's deadline and signal: the
 * wait for the LISTEN to take effect ends in time, and a subscription that
 * comes through after its caller gave up is stopped at once.
 *
 * @module
 */
import type { AcquireOptions } from "../core/resource_pool.ts";
import type { Clock, TimerHandle } from "../core/clock.ts";
import { AcquireTimeoutError } from "../errors.ts";

/** Stops one delivery. */
export type Unlisten = () => Promise<void>;

/**
 * Settles with `pending`, or rejects when `options.timeoutMs` passes
 * (`AcquireTimeoutError`) or `options.signal` aborts (its reason), whichever
 * comes first; a subscription that arrives later is stopped.
 *
 * @param pending The listen in progress.
 * @param channel The channel, for the message.
 * @param options The caller's deadline and signal.
 * @param clock The pool's clock.
 * @returns The unlisten function.
 */
export function boundedListen(
  pending: Promise<Unlisten>,
  channel: string,
  options: AcquireOptions,
  clock: Clock,
): Promise<Unlisten> {
  const { signal, timeoutMs } = options;
  if (signal === undefined && !(timeoutMs < Infinity)) return pending;
  return new Promise<Unlisten>((resolve, reject) => {
    let done = false;
    let timer: TimerHandle | undefined;
    const finish = () => {
      done = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const giveUp = (err: unknown) => {
      if (done) return;
      finish();
      reject(err);
    };
    const onAbort = () => giveUp(signal!.reason);
    pending.then(
      (unlisten) => {
        if (done) return void unlisten().catch(() => {});
        finish();
        resolve(unlisten);
      },
      (err) => giveUp(err),
    );
    if (timeoutMs < Infinity) {
      timer = clock.setTimeout(
        () =>
          giveUp(
            new AcquireTimeoutError(
              `Cannot listen on ${
                JSON.stringify(channel)
              }: LISTEN did not take effect within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
