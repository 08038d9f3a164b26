/**
 * Exponential, jittered, capped back-off for endpoints that fail.
 *
 * @module
 */

/**
 * Delay before the `attempt`-th retry (1-based): `base · 2^(attempt-1)`,
 * capped at `max`, with "equal jitter" (between half and all of it) so that
 * many pools do not retry in lockstep.
 *
 * @param attempt How many failures in a row so far (≥ 1).
 * @param baseMs First delay.
 * @param maxMs Largest delay.
 * @param random Source of randomness in [0, 1).
 * @returns Milliseconds to wait.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return exp / 2 + random() * (exp / 2);
}
