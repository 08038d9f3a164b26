/**
 * Server roles and libpq's `target_session_attrs`: what a server is (in
 * recovery or not, writable by default or not), how a session learns it, and
 * which targets it serves.
 *
 * @module
 */
import type { DriverConnection } from "../driver.ts";
import type { TargetSessionAttrs } from "../config/normalize.ts";

/** The role of an endpoint as `stats()` and `db.endpoint` show it. */
export type EndpointRole = "primary" | "standby" | "unknown";

/** What a server told a session about itself. */
export interface ServerRole {
  /** In recovery: a standby (`in_hot_standby`, `pg_is_in_recovery()`). */
  readonly inRecovery: boolean;
  /** `default_transaction_read_only` is on. */
  readonly readOnly: boolean;
}

/** Asked on servers that do not report `in_hot_standby` (before PostgreSQL 14, or drivers that hide it). */
export const ROLE_QUERY =
  "select pg_is_in_recovery() as in_recovery, current_setting('default_transaction_read_only') as read_only";

/**
 * The role a session's parameters report (PostgreSQL 14+ sends
 * `in_hot_standby` and `default_transaction_read_only` at startup and again
 * when they change).
 *
 * @param parameters The session's ParameterStatus values, if the driver has them.
 * @returns The role, or `undefined` when the server did not report it.
 */
export function roleFromParameters(
  parameters: Readonly<Record<string, string>> | undefined,
): ServerRole | undefined {
  const standby = parameters?.in_hot_standby;
  const readOnly = parameters?.default_transaction_read_only;
  if (standby === undefined || readOnly === undefined) return undefined;
  return { inRecovery: standby === "on", readOnly: readOnly === "on" };
}

/**
 * Learns a fresh session's role: from its parameters when reported, else with
 * {@linkcode ROLE_QUERY} (one round trip).
 *
 * @param connection The session.
 * @returns The role.
 * @throws Whatever the query throws (the session is then unusable for a role-bound group).
 */
export async function learnRole(connection: DriverConnection): Promise<ServerRole> {
  const reported = roleFromParameters(connection.parameters);
  if (reported) return reported;
  const { rows } = await connection.query(ROLE_QUERY);
  const row = rows[0] ?? {};
  return roleFromRow(row) ?? { inRecovery: false, readOnly: row.read_only === "on" };
}

/**
 * The role a row of {@linkcode ROLE_QUERY} tells.
 *
 * @param row The row, if any.
 * @returns The role, or `undefined` when the row does not say (no row, `in_recovery` null).
 */
export function roleFromRow(row: Record<string, unknown> | undefined): ServerRole | undefined {
  const recovery = row?.in_recovery;
  if (recovery === undefined || recovery === null) return undefined;
  return {
    inRecovery: recovery === true || recovery === "t" || recovery === "true",
    readOnly: row!.read_only === "on",
  };
}

/**
 * Whether a server of `role` serves `target`, as libpq decides. For
 * `prefer-standby`, the first pass takes standbys only and the second any server.
 *
 * @param role The server's role.
 * @param target The group's `target_session_attrs`.
 * @param fallback `true` for the second pass of `prefer-standby`.
 * @returns Whether the server matches.
 */
export function serves(role: ServerRole, target: TargetSessionAttrs, fallback: boolean): boolean {
  switch (target) {
    case "any":
      return true;
    case "read-write":
      return !role.inRecovery && !role.readOnly;
    case "read-only":
      return role.inRecovery || role.readOnly;
    case "primary":
      return !role.inRecovery;
    case "standby":
      return role.inRecovery;
    case "prefer-standby":
      return fallback || role.inRecovery;
  }
}

/**
 * Whether a statement that failed with `code` says the server no longer takes
 * writes (25006, `read_only_sql_transaction`): a reason to check its role again.
 *
 * @param target The group's target.
 * @param code The SQLSTATE.
 * @returns `true` for 25006 in a group that needs a writable server.
 */
export function signalsDemotion(target: TargetSessionAttrs, code: string | undefined): boolean {
  return code === "25006" && (target === "read-write" || target === "primary");
}

/**
 * The role `stats()` shows.
 *
 * @param role The learned role, if any.
 * @returns `"primary"`, `"standby"` or `"unknown"`.
 */
export function roleName(role: ServerRole | undefined): EndpointRole {
  return role === undefined ? "unknown" : role.inRecovery ? "standby" : "primary";
}
