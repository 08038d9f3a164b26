/**
 * The search a group's connect runs over its endpoints: `preferred` first,
 * then the others in rotation, skipping endpoints whose known role does not
 * match; when none matches, those are connected to again (rate-limited) to
 * learn whether their role changed. `prefer-standby` keeps a primary's
 * session as a fallback while it looks for a standby.
 *
 * @module
 */
import type { TargetSessionAttrs } from "../config/normalize.ts";
import type { DriverConnection } from "../driver.ts";
import { asConnectionError, offlineError } from "./connect_errors.ts";
import type { EndpointSet } from "./endpoint_set.ts";
import type { ConnectExtra } from "./open_session.ts";
import { roleName, serves } from "./roles.ts";

// A cut handshake (the server is up) is tried once more on the same endpoint.
const HANDSHAKE_TRIES = 2;

/** Who searches: the group's endpoints and target. */
export interface SearchScope {
  /** The pool's endpoints. */
  readonly set: EndpointSet;
  /** The group's name, for messages. */
  readonly group: string | undefined;
  /** The endpoints the group may use, in order. */
  readonly indexes: readonly number[];
  /** The group's target. */
  readonly target: TargetSessionAttrs;
  /** Whether the target asks for a role. */
  readonly checksRole: boolean;
  /** Passed to every connect of this search (the listen session's notifications). */
  readonly extra?: ConnectExtra;
}

/**
 * Opens a session for a group (see the module doc).
 *
 * @param scope The group's endpoints and target.
 * @param preferred The endpoint to try first (`-1`: any).
 * @returns The session and its endpoint index (not yet counted for the group).
 * @throws {OfflineError} No endpoint could be reached, or none has the role asked for.
 * @throws {ConnectionError} A server refused the login, or every reachable one cut the handshake.
 */
export async function findSession(
  scope: SearchScope,
  preferred: number,
): Promise<{ connection: DriverConnection; endpoint: number }> {
  const { set, indexes: list, target, checksRole } = scope;
  const start = Math.max(0, list.indexOf(preferred));
  const why = new Map<number, string>();
  let cut: { error: unknown; at: number } | undefined;
  let outage: unknown;
  let fallback: { connection: DriverConnection; endpoint: number } | undefined;
  const mismatched: number[] = [];
  // First pass: endpoints of a matching or unknown role; second: those
  // whose role did not match, if their role may be checked again.
  for (let pass = 0; pass < 2 && !fallback; pass++) {
    const order = pass === 0 ? [...list.slice(start), ...list.slice(0, start)] : mismatched;
    for (const i of order) {
      if (!set.usable(i)) continue;
      const known = checksRole ? set.roles.roleOf(i) : undefined;
      if (pass === 0 && known !== undefined && !serves(known, target, false)) {
        mismatched.push(i);
        why.set(i, roleName(known));
        continue;
      }
      if (
        pass === 1 && known !== undefined && !serves(known, target, true) &&
        !set.roles.recheckDue(i)
      ) continue;
      let got = await set.attempt(i, checksRole, scope.extra);
      for (let t = 1; t < HANDSHAKE_TRIES && !got.connection && got.kind === "handshake"; t++) {
        got = await set.attempt(i, checksRole, scope.extra);
      }
      if (got.connection === undefined) {
        if (got.kind === "login") throw asConnectionError(got.error, set.label(i), true);
        if (got.kind === "handshake") cut = { error: got.error, at: i };
        else outage = got.error;
        why.set(i, got.kind === "handshake" ? "the server cut the handshake" : "unreachable");
        continue;
      }
      const role = set.roles.roleOf(i);
      if (!checksRole || (role !== undefined && serves(role, target, false))) {
        if (fallback) set.close(fallback.endpoint, fallback.connection);
        return { connection: got.connection, endpoint: i };
      }
      why.set(i, roleName(role));
      if (role !== undefined && !fallback && serves(role, target, true)) {
        fallback = { connection: got.connection, endpoint: i };
      } else set.close(i, got.connection);
    }
  }
  if (fallback) return fallback;
  if (cut !== undefined) throw asConnectionError(cut.error, set.label(cut.at), false);
  const detail = list.map((i) => set.describe(i, why.get(i)));
  throw offlineError(
    scope.group,
    checksRole ? target : undefined,
    [...why.values()],
    detail,
    outage,
  );
}
