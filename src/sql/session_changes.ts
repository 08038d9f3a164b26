/**
 * Session hygiene: the kinds of session state that would leak to the next
 * holder of the connection, and the SQL that undoes exactly those. Which
 * statements change them is read in `statement_changes.ts`.
 *
 * `DISCARD ALL` / `DEALLOCATE ALL` are never used: they also drop the
 * driver's own prepared statements, whose cache would then point at nothing.
 *
 * @module
 */

/** Bits of session state a handler changed. */
export const SessionChange = {
  /** `SET`, `set_config()`: undone by `RESET ALL`. */
  Settings: 1,
  /** `SET ROLE`, `SET SESSION AUTHORIZATION`. */
  Role: 2,
  /** Temporary tables, views, sequences: `DISCARD TEMP`. */
  Temp: 4,
  /** `PREPARE name`: `DEALLOCATE name`. */
  Prepared: 8,
  /** Session-level advisory locks: `pg_advisory_unlock_all()`. */
  Locks: 16,
  /** `LISTEN`: `UNLISTEN *`. */
  Listen: 32,
  /** Cursors `WITH HOLD`: `CLOSE ALL`. */
  Cursors: 64,
  /** `markDirty()`, or SQL the pool could not read: anything may have changed; undo all of the above. */
  Unknown: 128,
  /** `DISCARD ALL` / `DEALLOCATE ALL` by the handler: nothing to undo, but a group's setup is gone. */
  Wiped: 256,
  /** `LOAD 'library'`: loaded for the session's life, nothing undoes it; the session is closed. */
  Lasting: 512,
} as const;

/**
 * Changes whose undoing (or that by themselves) remove what a group's
 * `on_connect` / `sqlprepare` set up on the session.
 */
export const UNDOES_SETUP = SessionChange.Settings | SessionChange.Role | SessionChange.Temp |
  SessionChange.Unknown | SessionChange.Wiped;

/**
 * The SQL that undoes the changes in `mask`, as one multi-statement text.
 *
 * @param mask {@linkcode SessionChange} bits.
 * @param prepared Names of statements created with `PREPARE`.
 * @returns The SQL, or `undefined` when there is nothing to undo.
 */
export function undoSql(mask: number, prepared: readonly string[]): string | undefined {
  if (mask === 0) return undefined;
  const all = (mask & SessionChange.Unknown) !== 0;
  const has = (bit: number) => all || (mask & bit) !== 0;
  const sql: string[] = [];
  if (has(SessionChange.Cursors)) sql.push("CLOSE ALL");
  if (has(SessionChange.Role)) sql.push("SET SESSION AUTHORIZATION DEFAULT", "RESET ROLE");
  if (has(SessionChange.Settings) || has(SessionChange.Role)) sql.push("RESET ALL");
  for (const name of new Set(prepared)) sql.push(`DEALLOCATE ${name}`);
  if (has(SessionChange.Listen)) sql.push("UNLISTEN *");
  if (has(SessionChange.Locks)) sql.push("SELECT pg_advisory_unlock_all()");
  if (has(SessionChange.Temp)) sql.push("DISCARD TEMP");
  return sql.length > 0 ? sql.join("; ") : undefined;
}
