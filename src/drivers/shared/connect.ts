/**
 * What opening a session means on every adapter: the endpoint's label, the
 * startup settings (with the application-name default), the connect
 * deadline, and one {@linkcode ConnectionError} for every way a connect
 * fails, telling a server that refused the login from one that could not be
 * reached.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { ConnectParams } from "../../driver.ts";
import { ConnectionError } from "../../errors.ts";
import { isCertificatePem } from "./tls.ts";
import { serverError } from "./server_error.ts";

// A runtime's timer fires at once past 2^31 - 1 ms (about 24.8 days): longer deadlines wait that long.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * `host:port` of an endpoint for messages; an IPv6 address in brackets, a
 * Unix socket directory as is.
 *
 * @param host Host name, IP address or socket directory.
 * @param port TCP port.
 * @returns The label, never with credentials.
 */
export function endpointLabel(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("/") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The startup settings to send: `application_name` defaults to `"pgdbpool"`.
 *
 * @param settings The pool's settings for the endpoint.
 * @returns A fresh object, `application_name` first.
 */
export function startupSettings(
  settings: Readonly<Record<string, string>>,
): Record<string, string> {
  return { application_name: "pgdbpool", ...settings };
}

// Driver codes of a server that was never reached (nothing answered).
const UNREACHED = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ETIMEDOUT",
  "ENOENT",
  "CONNECT_TIMEOUT",
  "ERR_POSTGRES_CONNECTION_REFUSED",
  "ERR_POSTGRES_CONNECTION_TIMEOUT",
  "ConnectionRefused",
  "TimedOut",
]);

// TLS set-up failures: OpenSSL's verification codes and the drivers' own.
const TLS_CODE = /TLS|SSL|CERT|VERIFY|SIGNATURE|ISSUER|SELF_SIGNED|ALTNAME|HOSTNAME/;

// Nothing that speaks PostgreSQL answered: refused, unreachable, timed out,
// or TLS could not be set up (the startup never began).
function unreached(code: string): boolean {
  return UNREACHED.has(code) || TLS_CODE.test(code);
}

/**
 * The {@linkcode ConnectionError} a failed connect rejects with. A server
 * error (wrong password, missing database or role, the backend terminated
 * during startup) keeps its SQLSTATE in `code` and counts as `reached`;
 * socket errors keep the driver's code, `reached` when the adapter saw the
 * server answer the startup, else unless the code says nothing answered
 * (refused, unreachable, timed out, TLS not set up).
 *
 * @param err The driver's error.
 * @param label `host:port`.
 * @param driver The driver's name, for the message.
 * @param reached What the adapter knows: whether the TCP connection was accepted.
 * @returns The error; `err` itself when it is one already.
 */
export function connectError(
  err: unknown,
  label: string,
  driver: string,
  reached?: boolean,
): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const fields = serverError(err);
  const own = (err as { code?: unknown } | null)?.code;
  const code = fields?.code ?? (typeof own === "string" ? own : undefined);
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectionError(
    `Cannot connect to ${label} with ${driver}: ${message}`,
    label,
    {
      cause: err,
      code,
      reached: fields !== undefined || (reached ?? (code !== undefined && !unreached(code))),
    },
  );
}

/**
 * The endpoint's label (see {@linkcode endpointLabel}), once what can be
 * checked before connecting is checked: an `sslRootCert` that is not a PEM
 * certificate fails every driver the same way.
 *
 * @param params The connect parameters.
 * @returns `host:port`.
 * @throws {ConnectionError} Coded `SSL_ROOT_CERT_INVALID`, not `reached`.
 */
export function checkedLabel(params: ConnectParams): string {
  const label = endpointLabel(params.host, params.port);
  const pem = params.sslRootCert;
  if (pem !== undefined && params.ssl !== "disable" && !isCertificatePem(pem)) {
    throw new ConnectionError(
      `Cannot connect to ${label}: sslrootcert holds no valid PEM certificate`,
      label,
      { code: "SSL_ROOT_CERT_INVALID" },
    );
  }
  return label;
}

/**
 * The error a connect deadline rejects with: coded `CONNECT_TIMEOUT`, not `reached`.
 *
 * @param label `host:port`.
 * @param timeoutMs The deadline.
 * @returns The error.
 */
export function connectTimeout(label: string, timeoutMs: number): ConnectionError {
  return new ConnectionError(
    `Cannot connect to ${label}: timed out after ${timeoutMs} ms`,
    label,
    { code: "CONNECT_TIMEOUT" },
  );
}

/**
 * The error an aborted connect rejects with (the pool ended while it was in
 * flight): coded `CONNECT_ABORTED`, not `reached`.
 *
 * @param label `host:port`.
 * @returns The error.
 */
export function connectAborted(label: string): ConnectionError {
  return new ConnectionError(
    `Cannot connect to ${label}: the connect was aborted (the pool ended)`,
    label,
    { code: "CONNECT_ABORTED" },
  );
}

/**
 * Runs `connecting` against a deadline and an abort signal. When the deadline
 * passes or `signal` aborts first, calls `onTimeout` (which must tear the
 * half-open session down) and rejects with {@linkcode connectTimeout} or
 * {@linkcode connectAborted}. A non-positive or non-finite `timeoutMs` means
 * no deadline. `connecting` is always handled, whatever happens later; the
 * timer and the abort listener are gone once it settles.
 *
 * @param connecting The connect attempt.
 * @param timeoutMs The deadline in milliseconds.
 * @param label `host:port`, for the message.
 * @param onTimeout Called once when the deadline passes or the signal aborts first.
 * @param signal Aborted when nobody waits for the session any more (the pool ended).
 * @returns What `connecting` resolves to.
 */
export function withConnectTimeout<T>(
  connecting: Promise<T>,
  timeoutMs: number,
  label: string,
  onTimeout: () => void,
  signal?: AbortSignal,
): Promise<T> {
  const deadline = timeoutMs > 0 && Number.isFinite(timeoutMs);
  if (!deadline && signal === undefined) return connecting;
  return new Promise<T>((resolve, reject) => {
    const give = (err: unknown) => {
      settle();
      onTimeout();
      reject(err);
    };
    const timer = deadline
      ? setTimeout(() => give(connectTimeout(label, timeoutMs)), Math.min(timeoutMs, MAX_TIMER_MS))
      : undefined;
    const aborted = () => give(connectAborted(label));
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
    };
    connecting.then(
      (value) => {
        settle();
        resolve(value);
      },
      (err) => {
        settle();
        reject(err);
      },
    );
    if (signal?.aborted) aborted();
    else signal?.addEventListener("abort", aborted, { once: true });
  });
}
