/**
 * The errors a group's connect ends with: `OfflineError` when no endpoint of
 * the group could serve it (naming the group, its target and each endpoint's
 * state), `ConnectionError` when a server answered and refused the login or
 * cut the handshake.
 *
 * @module
 */
import { ConnectionError, OfflineError } from "../errors.ts";
import { codeOf } from "./health.ts";

const ROLES = new Set(["primary", "standby", "unknown"]);

/**
 * The `OfflineError` of a group that found no endpoint to serve it.
 *
 * @param group The group's name, if any.
 * @param target Its `target_session_attrs`, when it asks for a role.
 * @param why Why each endpoint tried was passed over: a role name, or a failure.
 * @param detail Each endpoint of the group, described (state, back-off).
 * @param cause The last connect error, if any.
 * @returns The error.
 */
export function offlineError(
  group: string | undefined,
  target: string | undefined,
  why: readonly string[],
  detail: readonly string[],
  cause: unknown,
): OfflineError {
  const who = group === undefined ? "" : ` for group "${group}"`;
  const asked = target === undefined ? "" : ` (target_session_attrs "${target}")`;
  const what = why.some((w) => ROLES.has(w))
    ? "no reachable endpoint has the role asked for"
    : "no endpoint can be reached";
  return new OfflineError(
    `Cannot connect${who}${asked}: ${what}: ${detail.join(", ")}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A server's refusal (or cut handshake) as a `ConnectionError` with the
 * SQLSTATE in `code`; an adapter's `ConnectionError` is passed on as it is.
 *
 * @param err The driver's error.
 * @param label `host:port` of the endpoint.
 * @param login Whether the server refused the login (else it cut the handshake).
 * @returns The error.
 */
export function asConnectionError(err: unknown, label: string, login: boolean): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const e = err as { message?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(err);
  return new ConnectionError(
    login
      ? `Cannot connect to ${label}: the server refused the login: ${message}`
      : `Cannot connect to ${label}: the server cut the session during startup: ${message}`,
    label,
    { cause: err, code: codeOf(err), reached: true },
  );
}
