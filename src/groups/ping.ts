/**
 * A ping with a deadline: a session is asked `SELECT 1`, and one that does
 * not answer in time is as good as broken (a silent network, a frozen
 * server). It serves the ping before use of both kinds of group, and the
 * listen session's keep-alive. The caller's signal wins over the ping.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";

/** How a ping ended for the caller: answered, failed, unanswered in time, or the caller gave up. */
export type PingOutcome = "ok" | "failed" | "late" | "aborted";

/**
 * Sends a ping, waiting at most `ms` and no longer than `signal` allows.
 * The ping's promise is always handled, whatever comes first.
 *
 * @param send Sends the ping (`EndpointScope.ping`: `SELECT 1`, or the role query).
 * @param clock The clock for the deadline.
 * @param ms The deadline.
 * @param signal The caller's signal.
 * @param afterAbort Told, after the caller gave up, whether the ping answered within `ms`.
 * @param onLate Called at the deadline, before the outcome `"late"` is known to the caller
 *   (the listen keep-alive closes its session there and records why).
 * @returns The outcome; never rejects.
 */
export function pingWithin(
  send: () => Promise<unknown>,
  clock: Clock,
  ms: number,
  signal: AbortSignal | undefined,
  afterAbort: (ok: boolean) => void,
  onLate?: () => void,
): Promise<PingOutcome> {
  if (signal?.aborted) return Promise.resolve("aborted");
  let ping: Promise<unknown>;
  try {
    ping = send();
  } catch (err) {
    ping = Promise.reject(err);
  }
  return new Promise((resolve) => {
    let outcome: PingOutcome | undefined;
    let over = false;
    const end = (how: PingOutcome) => {
      if (outcome) return;
      outcome = how;
      signal?.removeEventListener("abort", onAbort);
      resolve(how);
    };
    // After an abort the deadline still runs: the session's fate stays bounded.
    const settle = (how: PingOutcome) => {
      if (over) return;
      over = true;
      clock.clearTimeout(timer);
      if (how === "late") onLate?.();
      if (outcome === "aborted") afterAbort(how === "ok");
      end(how);
    };
    const onAbort = () => end("aborted");
    const timer = clock.setTimeout(() => settle("late"), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    ping.then(() => settle("ok"), () => settle("failed"));
  });
}
