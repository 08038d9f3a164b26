/**
 * One endpoint's health: which connect failures are outages, and the
 * back-off that counts one failure per attempt window.
 *
 * @module
 */
import { backoffDelay } from "../core/backoff.ts";
import { ConnectionError, isLoginRefused } from "../errors.ts";

/**
 * What a failed connect says about its endpoint:
 * - `"outage"`: the server could not be reached (refused, no route, no
 *   answer within `connect_timeout`, or "cannot connect now", 57P03);
 * - `"handshake"`: the server answered, then the session was cut during
 *   startup (a backend terminated, a reset): the server is up;
 * - `"login"`: the server refused the login (28xxx, 3D000): up, and
 *   retrying cannot help.
 */
export type ConnectFailure = "outage" | "handshake" | "login";

// Codes of a socket cut after the server accepted it (whatever the adapter says of `reached`).
const CUT_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "ERR_POSTGRES_CONNECTION_CLOSED",
]);

// Five characters, digits among them: "EPIPE" and "EPERM" are socket codes, not SQLSTATEs.
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/;

/*
 * A handshake cut after the server accepted the socket is evidence of a live
 * server (an administrator, `idle_session_timeout`, a failover killed it), not
 * of an outage: it backs the endpoint off only when it persists, that is when
 * cuts went on for a whole window with no handshake succeeding and no pause
 * longer than the window between two of them (a pooler whose backend is gone
 * accepts and cuts every time). The window is the endpoint's connect timeout,
 * at least a second: long enough for a handshake already under way when the
 * cuts began to finish, however busy the machine. A burst of concurrent cuts
 * spans no time, so it is one piece of evidence, not many.
 */
const MIN_CUT_WINDOW_MS = 1_000;

/**
 * Classifies a connect failure. Bundled adapters reject with a
 * `ConnectionError` carrying `reached` and `code`; other drivers are read by
 * their error's `code` (or Bun's `errno`), and an error the pool cannot read
 * counts as an outage.
 *
 * @param err What the driver's `connect` rejected with.
 * @returns The kind of failure.
 */
export function classifyConnectFailure(err: unknown): ConnectFailure {
  if (isLoginRefused(err)) return "login";
  const code = codeOf(err);
  if (code === "57P03") return "outage";
  // A socket that was cut had been accepted: something answers on that port.
  if (code !== undefined && CUT_CODES.has(code)) return "handshake";
  if (err instanceof ConnectionError) return err.reached ? "handshake" : "outage";
  if (code === undefined) return "outage";
  if (SQLSTATE.test(code)) return code.startsWith("28") || code === "3D000" ? "login" : "handshake";
  return "outage";
}

/**
 * The SQLSTATE or driver code of an error: `code`, else Bun's `errno` when it
 * is a SQLSTATE, else the same of its `cause`.
 *
 * @param err Any thrown value.
 * @returns The code, or `undefined`.
 */
export function codeOf(err: unknown): string | undefined {
  for (let e = err as Record<string, unknown> | undefined, depth = 0; e && depth < 3; depth++) {
    const { code, errno } = e;
    if (typeof errno === "string" && SQLSTATE.test(errno)) return errno;
    if (typeof code === "string") return code;
    e = typeof e === "object" ? e.cause as Record<string, unknown> | undefined : undefined;
  }
  return undefined;
}

/** Where an endpoint's health is published to a threaded pool's other isolates. */
export interface HealthLink {
  /**
   * The endpoint is backed off.
   *
   * @param failures Failures in a row.
   * @param retryInMs Time until the next attempt.
   */
  down(failures: number, retryInMs: number): void;
  /** The endpoint answered again. */
  up(): void;
}

/** Back-off settings. */
export interface BackoffOptions {
  /** First delay, in ms. */
  baseMs: number;
  /** Longest delay, in ms. */
  maxMs: number;
}

/**
 * Health of one endpoint. Every connect attempt takes a ticket
 * ({@linkcode Health.begin}); a failure counts only if nothing was counted
 * since its ticket was taken, so 50 concurrent attempts that fail together
 * are one failure, not 50.
 */
export class Health {
  /** Outage failures in a row (windows, not attempts). */
  failures = 0;
  /** Clock time from which the next attempt may go out. */
  retryAt = 0;
  /** The last failure's message (redacted by the caller). */
  lastError: string | undefined;
  /** Told once per outage when it begins (with the redacted error) and when it ends. */
  onChange: ((up: boolean, error: string | undefined) => void) | undefined;
  /** Where a threaded pool publishes this health to its other isolates. */
  shared: HealthLink | undefined;
  #window = 0;
  #probing = false;
  readonly #cutWindowMs: number;
  // Clock times of the first cut since the last success or outage, and of the latest cut.
  #cutsSince: number | undefined;
  #lastCut = 0;

  /**
   * The health of an endpoint not tried yet: up.
   *
   * @param connectTimeoutMs The endpoint's connect timeout: cut handshakes
   * back it off once they persist for this long (at least a second).
   */
  constructor(connectTimeoutMs = 0) {
    this.#cutWindowMs = Math.max(connectTimeoutMs, MIN_CUT_WINDOW_MS);
  }

  /** `false` while backed off. */
  get up(): boolean {
    return this.failures === 0;
  }

  /**
   * Whether an attempt may go out now: the endpoint is up, or its back-off
   * has passed and no other probe is out.
   *
   * @param now Clock time.
   * @returns Whether to try it.
   */
  available(now: number): boolean {
    return this.failures === 0 || (this.retryAt <= now && !this.#probing);
  }

  /**
   * Starts an attempt.
   *
   * @param now Clock time.
   * @returns The ticket to pass to {@linkcode Health.succeeded} or {@linkcode Health.failed}.
   */
  begin(now: number): number {
    // A backed-off endpoint gets one probe at a time.
    if (this.failures > 0 && this.retryAt <= now) this.#probing = true;
    return this.#window;
  }

  /**
   * An attempt succeeded: the endpoint is up.
   *
   * @param _ticket The attempt's ticket.
   */
  succeeded(_ticket: number): void {
    const wasDown = this.failures > 0;
    // A new window: a failure of an attempt that began before this success does not count.
    if (wasDown || this.#cutsSince !== undefined) this.#window++;
    this.failures = 0;
    this.#cutsSince = undefined;
    this.#probing = false;
    this.lastError = undefined;
    if (wasDown) this.onChange?.(true, undefined);
    if (wasDown) this.shared?.up();
  }

  /**
   * An attempt failed. Outages back the endpoint off (once per window);
   * cut handshakes only once they persist for the cut window (see the
   * constructor) with no success in between; refused logins never do.
   *
   * @param ticket The attempt's ticket.
   * @param kind What the failure says.
   * @param now Clock time.
   * @param backoff Back-off settings.
   * @param message The failure, for stats (already redacted).
   * @returns Whether the endpoint is now backed off.
   */
  failed(
    ticket: number,
    kind: ConnectFailure,
    now: number,
    backoff: BackoffOptions,
    message?: string,
  ): boolean {
    this.#probing = false;
    if (kind === "login") return false;
    if (kind === "handshake" && !this.#cutsPersist(now)) return this.failures > 0;
    // After an outage, the next cut is news that the server answers again.
    if (kind === "outage") this.#cutsSince = undefined;
    if (ticket !== this.#window) return this.failures > 0;
    this.#window++;
    this.failures++;
    this.lastError = message;
    this.retryAt = now + backoffDelay(this.failures, backoff.baseMs, backoff.maxMs);
    if (this.failures === 1) this.onChange?.(false, message);
    this.shared?.down(this.failures, this.retryAt - now);
    return true;
  }

  // Records a cut: true once cuts have gone on for the window, with no pause
  // as long while the endpoint is up (a back-off's own pause does not count).
  #cutsPersist(now: number): boolean {
    const paused = this.failures === 0 && now - this.#lastCut > this.#cutWindowMs;
    if (this.#cutsSince === undefined || paused) this.#cutsSince = now;
    this.#lastCut = now;
    return now - this.#cutsSince >= this.#cutWindowMs;
  }

  /**
   * Takes the health another isolate of a threaded pool published.
   *
   * @param failures Its failure count (0: up).
   * @param retryAt Clock time of the next attempt.
   */
  adopt(failures: number, retryAt: number): void {
    this.failures = failures;
    this.retryAt = retryAt;
    this.lastError = failures === 0
      ? undefined
      : this.lastError ?? "down (seen by another isolate)";
  }
}
