/**
 * The password of a new session: the configured string, or what the
 * endpoint's `pass` function returns, fetched for this connect. Concurrent
 * connects to one endpoint share one call; the call is bounded by the
 * endpoint's `connect_timeout`; a throw, a timeout or a non-string becomes a
 * `ConnectionError` with code {@linkcode PASS_FUNCTION_FAILED} that never
 * quotes what the function returned (a password holding a NUL too).
 *
 * @module
 */
import { type Clock, settleWithin } from "../core/clock.ts";
import { type EndpointConfig, passFunctionOf, passwordOf } from "../config/normalize.ts";
import type { PassFunction } from "../config/pass_function.ts";
import { ConnectionError } from "../errors.ts";

/** `code` of the `ConnectionError` of a `pass` function that failed. */
export const PASS_FUNCTION_FAILED = "PASS_FUNCTION_FAILED";

const inFlight = new WeakMap<EndpointConfig, { call: Promise<string | undefined>; era: number }>();
// Bumped by `pool.drain()`: a connect asked for after it calls `pass` anew.
let era = 0;

/**
 * Makes later connects call their `pass` function again instead of sharing a
 * call already in flight (whose value may predate a credential rotation).
 */
export function forgetPassCalls(): void {
  era++;
}

/**
 * The password to open a session of `config` with.
 *
 * @param config The endpoint.
 * @param label Its `host:port`, for messages.
 * @param clock The clock of the timeout.
 * @returns The password (a promise when a `pass` function is called).
 */
export function passwordFor(
  config: EndpointConfig,
  label: string,
  clock: Clock,
): string | undefined | Promise<string | undefined> {
  const fn = passFunctionOf(config);
  if (fn === undefined) return passwordOf(config);
  const shared = inFlight.get(config);
  if (shared !== undefined && shared.era === era) return shared.call;
  const entry = { call: callWithin(fn, config, label, clock), era };
  entry.call = entry.call.finally(() => inFlight.get(config) === entry && inFlight.delete(config));
  inFlight.set(config, entry);
  return entry.call;
}

/**
 * Whether a connect failed in the `pass` function, not at the server.
 *
 * @param err The connect error.
 * @returns `true` for the error of a failed `pass` function.
 */
export function isPassFailure(err: unknown): boolean {
  return err instanceof ConnectionError && err.code === PASS_FUNCTION_FAILED;
}

async function callWithin(
  fn: PassFunction,
  config: EndpointConfig,
  label: string,
  clock: Clock,
): Promise<string | undefined> {
  const ms = config.connectTimeoutMs;
  const { id, host, port, user, database } = config;
  try {
    // A function that throws at once, and one that never settles, end the same way.
    const value = await settleWithin(
      clock,
      Promise.resolve().then(() => fn(Object.freeze({ id, host, port, user, database }))),
      ms,
      () => failure(label, `did not return within ${ms} ms (connect_timeout)`),
    );
    if (typeof value !== "string") {
      throw failure(label, `returned a value of type ${typeof value}, expected a string`);
    }
    // The startup message ends its strings at NUL: such a password would be cut short.
    if (value.includes("\0")) throw failure(label, "returned a password holding a NUL character");
    return value === "" ? undefined : value;
  } catch (err) {
    throw isPassFailure(err) ? err : failure(label, "threw (its error is the cause)", err);
  }
}

function failure(label: string, what: string, cause?: unknown): ConnectionError {
  return new ConnectionError(
    `Cannot connect to ${label}: the endpoint's "pass" function ${what}`,
    label,
    { code: PASS_FUNCTION_FAILED, cause },
  );
}
