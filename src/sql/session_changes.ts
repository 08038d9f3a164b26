/**
 * Session hygiene: which statements change session state that would leak to
 * the next holder of the connection, and the SQL that undoes exactly that.
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
  /** `markDirty()`: anything may have changed; undo all of the above. */
  Unknown: 128,
} as const;

// One cheap scan per query; only texts that match it are looked at closely.
const HINT = /set|temp|prepare|advisory_lock|listen|declare/i;
const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
const SET_HARMLESS = /^set\s+(?:local|transaction|constraints)\b/i;
const SET_ROLE = /^set\s+(?:(?:session|local)\s+)?(?:role|session\s+authorization)\b/i;
const CREATE_TEMP = /^create\s+(?:or\s+replace\s+)?(?:(?:global|local)\s+)?temp(?:orary)?\b/i;
const INTO_TEMP = /\binto\s+(?:temp|temporary)\b|\bpg_temp\s*\./i;
const PREPARE = /^prepare\s+(?!transaction\b)("(?:[^"]|"")+"|[\p{L}_][\p{L}\p{N}_$]*)/iu;
const SET_CONFIG = /\bset_config\s*\(/i;
const ADVISORY_LOCK = /\bpg_(?:try_)?advisory_lock(?:_shared)?\s*\(/i;
const WITH_HOLD = /\bwith\s+hold\b/i;

const CLEAN_TEXTS_MAX = 1000;
const cleanTexts = new Set<string>();

/**
 * What a statement text changes in the session.
 *
 * @param text SQL text, possibly several statements.
 * @param prepared Collects the names of statements created with `PREPARE`.
 * @returns A mask of {@linkcode SessionChange} bits; 0 for most queries.
 */
export function sessionChanges(text: string, prepared: string[]): number {
  if (cleanTexts.has(text)) return 0;
  if (!HINT.test(text)) {
    // Query texts are mostly literals: remember the clean ones (bounded).
    if (cleanTexts.size >= CLEAN_TEXTS_MAX) cleanTexts.clear();
    cleanTexts.add(text);
    return 0;
  }
  let mask = 0;
  for (const part of text.includes(";") ? text.split(";") : [text]) {
    const stmt = part.replace(LEADING_NOISE, "");
    const verb = stmt.slice(0, 8).toLowerCase();
    if (verb.startsWith("set ") || verb.startsWith("set\t") || verb.startsWith("set\n")) {
      if (SET_ROLE.test(stmt)) mask |= SessionChange.Role;
      else if (!SET_HARMLESS.test(stmt)) mask |= SessionChange.Settings;
    } else if (verb.startsWith("create")) {
      if (CREATE_TEMP.test(stmt) || INTO_TEMP.test(stmt)) mask |= SessionChange.Temp;
    } else if (verb.startsWith("prepare")) {
      const name = PREPARE.exec(stmt)?.[1];
      if (name) {
        prepared.push(name);
        mask |= SessionChange.Prepared;
      }
    } else if (verb.startsWith("listen")) {
      mask |= SessionChange.Listen;
    } else if (verb.startsWith("declare")) {
      if (WITH_HOLD.test(stmt)) mask |= SessionChange.Cursors;
    } else if (INTO_TEMP.test(stmt)) {
      mask |= SessionChange.Temp;
    }
    if (SET_CONFIG.test(stmt)) mask |= SessionChange.Settings;
    if (ADVISORY_LOCK.test(stmt)) mask |= SessionChange.Locks;
  }
  return mask;
}

const TX_CONTROL =
  /^(?:begin|start|commit|end|rollback|abort|savepoint|release|prepare\s+transaction)\b/i;

/**
 * Whether any statement of the text starts, ends or marks a transaction
 * (comments before it do not hide it).
 *
 * @param text SQL text, possibly several statements.
 * @returns `true` for `BEGIN`, `COMMIT`, `SAVEPOINT`…
 */
export function controlsTransaction(text: string): boolean {
  for (const part of text.includes(";") ? text.split(";") : [text]) {
    if (TX_CONTROL.test(part.replace(LEADING_NOISE, ""))) return true;
  }
  return false;
}

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
  return sql.join("; ");
}
