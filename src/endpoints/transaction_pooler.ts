/**
 * Endpoints with `pool_mode: "transaction"`: a pooler (PgBouncer's
 * `pool_mode = transaction`) that hands each transaction whichever server
 * session is free. Such a session takes no startup settings (PgBouncer refuses
 * parameters it does not know), keeps no named statements (before PgBouncer
 * 1.21), and keeps no session state between transactions: a `SET` would stay
 * on a server session another client gets next. The sessions opened there are
 * remembered here, so a handler refuses session-changing statements on them.
 *
 * @module
 */
import type { DriverConnection } from "../driver.ts";
import { ConnectionError, PoolError, QueryError } from "../errors.ts";

const pooled = new WeakSet<DriverConnection>();

/**
 * Remembers a session opened on an endpoint with `pool_mode: "transaction"`.
 *
 * @param connection The session.
 */
export function markTransactionPooled(connection: DriverConnection): void {
  pooled.add(connection);
}

/**
 * Whether a session goes through a transaction-mode pooler.
 *
 * @param connection The session.
 * @returns `true` for sessions of endpoints with `pool_mode: "transaction"`.
 */
export function isTransactionPooled(connection: DriverConnection): boolean {
  return pooled.has(connection);
}

/**
 * The refusal of a statement that would change session state through a
 * transaction-mode pooler.
 *
 * @param group The group, for the message.
 * @param endpoint The endpoint's label.
 * @returns The error to reject with; nothing was sent.
 */
export function sessionStateRefused(group: string, endpoint: string): PoolError {
  return new PoolError(
    `Cannot change session state (SET, PREPARE, temp tables, advisory locks, LISTEN, cursors WITH HOLD) in group "${group}" on ${endpoint}: the endpoint has pool_mode "transaction", so the next statement may run on another server session and this one's state would reach another client; use SET LOCAL or set_config(…, true) inside a transaction (autocommit: false), or an endpoint in session mode`,
  );
}

/**
 * A connect failure that says a pooler refused the startup settings, turned
 * into a `ConnectionError` that names the setting to change.
 *
 * @param error The driver's error.
 * @param label The endpoint's label.
 * @returns The error with the advice, or `undefined` when `error` is another failure.
 */
export function startupRefusal(error: unknown, label: string): ConnectionError | undefined {
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message !== "string" || !/unsupported startup parameter/i.test(message)) {
    return undefined;
  }
  return new ConnectionError(
    `Cannot connect to ${label}: ${message}: the endpoint is a pooler (PgBouncer) that refuses the session settings the pool sends (statement_timeout, temp_buffers); set pool_mode: "transaction" on the endpoint (for PgBouncer's pool_mode = transaction), or add ignore_startup_parameters = statement_timeout, temp_buffers, options to pgbouncer.ini`,
    label,
    { cause: error, code: "08P01", reached: true },
  );
}

// Why a driver's own named statement fails behind a transaction-mode pooler, by SQLSTATE.
const NAMED_STATEMENT_FAILURES: Readonly<Record<string, string>> = {
  "42P05": "the driver's named statement met a server session that already had it",
  "26000":
    "unless a PREPARE or EXECUTE of yours names it, the driver's named statement was parsed on another server session",
};

/**
 * A `42P05` (prepared statement already exists) on a text that prepares
 * nothing itself, or a `26000` (no such prepared statement): what a driver's
 * named statements meet behind a transaction-mode pooler, which hands each
 * transaction another server session. The error gets the advice; others pass
 * unchanged.
 *
 * @param failure The query's error.
 * @param prepares Whether the text itself runs `PREPARE`.
 * @returns `failure`, or a copy whose message names the cause and the setting.
 */
export function namedStatementHint(failure: PoolError, prepares: boolean): PoolError {
  if (!(failure instanceof QueryError) || prepares || failure.code === undefined) return failure;
  const why = Object.hasOwn(NAMED_STATEMENT_FAILURES, failure.code)
    ? NAMED_STATEMENT_FAILURES[failure.code]
    : undefined;
  if (why === undefined) return failure;
  return new QueryError(
    `${failure.message}: ${why}, as happens behind a transaction-mode pooler (PgBouncer before 1.21); there, set pool_mode: "transaction" on the endpoint (or prepare: false on the driver)`,
    { ...failure, code: failure.code, cause: failure.cause },
  );
}
