/**
 * Racing the caller's `fn` against its `AbortSignal`.
 *
 * @module
 */

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it
 * fires; then the session `fn` holds is dropped (`handler.abandon()`). Once
 * `work` has settled, a late abort changes nothing: its result must still be
 * committed and reported.
 *
 * @param work What `fn` returned.
 * @param signal The caller's signal.
 * @param handler What to abandon on abort.
 * @returns `work`'s outcome, or the signal's reason.
 */
export function raceAbort<T>(
  work: T | Promise<T>,
  signal: AbortSignal,
  handler: { abandon(): void },
): Promise<T> {
  if (signal.aborted) {
    handler.abandon();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      handler.abandon();
      reject(signal.reason);
    };
    const done = (settle: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      settle();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve(work).then(
      (value) => done(() => resolve(value)),
      (err) => done(() => reject(err)),
    );
  });
}
