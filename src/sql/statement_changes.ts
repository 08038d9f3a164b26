/**
 * Which session state a statement changes, read from its tokens: leading
 * keywords (`SET`, `RESET`, `PREPARE`, `LISTEN`) and words that matter
 * anywhere (`set_config`, advisory locks, `CREATE TEMP`, `INTO TEMP`,
 * `pg_temp`, `WITH HOLD`, an `UPDATE` of `pg_settings`). The body of a `DO`
 * block, and strings run as SQL (`EXECUTE '...'` inside it,
 * `query_to_xml('...')`), are read the same way, both ways a server may read
 * their strings; SQL built at run time cannot be read and counts as unknown
 * (see `dynamic_sql.ts`).
 *
 * @module
 */
import { type Token, tokenize, TokenKind, type Tokens } from "./tokenizer.ts";
import { nameAt, splitStatements, wordAt } from "./statements.ts";
import { SessionChange } from "./session_changes.ts";
import { dropsOnCommit, isTempKeyword, mentionsTempSchema } from "./temp_objects.ts";
import {
  constantArguments,
  executesConstant,
  readableDoBlock,
  SQL_RUNNERS,
} from "./dynamic_sql.ts";

const S = SessionChange;

// Strings inside strings inside strings: deeper than that is not read.
const MAX_DEPTH = 3;

const ADVISORY_LOCKS = new Set([
  "pg_advisory_lock",
  "pg_advisory_lock_shared",
  "pg_try_advisory_lock",
  "pg_try_advisory_lock_shared",
]);

// In a PL/pgSQL body a statement may follow these words without a `;`.
const BLOCK_WORDS = new Set(["begin", "then", "else", "loop"]);

// SET LOCAL / TRANSACTION / CONSTRAINTS end with the transaction (but `SET local.x` names a
// setting of the session).
const SET_HARMLESS = new Set(["local", "transaction", "constraints"]);

/**
 * The {@linkcode SessionChange} bits of one statement.
 *
 * @param stmt The statement's tokens.
 * @param prepared Collects names created with `PREPARE`, ready for `DEALLOCATE`.
 * @param depth 0 for a statement of the query text; more inside a `DO` body or a string run as SQL.
 * @returns The bits; 0 for most statements.
 */
export function statementChanges(stmt: readonly Token[], prepared: string[], depth = 0): number {
  let mask = leadingChanges(stmt, 0, prepared);
  if (depth > 0) {
    for (let i = 1; i < stmt.length; i++) {
      const before = wordAt(stmt, i - 1);
      if (before !== undefined && BLOCK_WORDS.has(before)) {
        mask |= leadingChanges(stmt, i, prepared);
      }
    }
  }
  let runsStrings = wordAt(stmt, 0) === "do";
  if (runsStrings && !readableDoBlock(stmt)) mask |= S.Unknown;
  let updates = false;
  let namesSettings = false;
  let namesTempSchema = false;
  // SET, set_config(), pg_settings: with pg_temp named, even SET LOCAL or set_config(..., true)
  // sends the next CREATE TABLE to the temporary schema, where it outlives the transaction.
  let sets = false;
  for (let i = 0; i < stmt.length; i++) {
    const name = nameAt(stmt, i);
    if (name === undefined) continue;
    if (name === "set_config") {
      sets = true;
      // It may name role or session_authorization, which RESET ALL leaves alone.
      if (!isLocalSetConfig(stmt, i)) mask |= S.Settings | S.Role;
    } else if (ADVISORY_LOCKS.has(name)) mask |= S.Locks;
    else if (name.startsWith("pg_temp")) {
      namesTempSchema = true;
      // pg_temp.t, pg_temp_3.f(): an object in the session's temporary schema.
      if (stmt[i + 1]?.value === ".") mask |= S.Temp;
    } else if (name === "pg_settings") namesSettings = sets = true;
    else if (SQL_RUNNERS.has(name)) {
      runsStrings = true;
      if (!constantArguments(stmt, i)) mask |= S.Unknown;
    } else if (depth > 0 && name === "execute") {
      runsStrings = true;
      if (!executesConstant(stmt, i)) mask |= S.Unknown;
    } else if (stmt[i].kind !== TokenKind.Word) continue;
    else if (name === "update") updates = true;
    else if (name === "set") sets = true;
    else if (name === "temp" || name === "temporary") {
      if (isTempKeyword(stmt, i) && !dropsOnCommit(stmt, i)) mask |= S.Temp;
    } else if (name === "hold") {
      if (wordAt(stmt, i - 1) === "with" && wordAt(stmt, i + 1) === "for") mask |= S.Cursors;
    }
  }
  if (updates && namesSettings) mask |= S.Settings | S.Role;
  if (runsStrings) {
    for (const token of stmt) {
      if (token.kind === TokenKind.String) mask |= stringChanges(token, prepared, depth + 1);
    }
  }
  // A search_path that starts with pg_temp puts the next CREATE TABLE there.
  if (sets && (mask & S.Temp) === 0 && (namesTempSchema || mentionsTempSchema(stmt))) {
    mask |= S.Temp;
  }
  return mask;
}

/**
 * The {@linkcode SessionChange} bits of a text run as SQL inside another
 * statement (a `DO` body, a string given to `EXECUTE`).
 *
 * @param text The SQL or PL/pgSQL text.
 * @param prepared Collects names created with `PREPARE`.
 * @param depth How deep it sits (1 for a `DO` body).
 * @returns The bits; `Unknown` when the text cannot be read.
 */
export function textChanges(text: string, prepared: string[], depth: number): number {
  if (depth > MAX_DEPTH) return S.Unknown;
  const read = tokenize(text);
  let mask = tokensChanges(read, prepared, depth);
  // As for the query text: a server with standard_conforming_strings off reads it otherwise.
  if (read.backslashInString) {
    const other = tokenize(text, true);
    if (!other.unclosed) mask |= tokensChanges(other, prepared, depth);
  }
  return mask;
}

function tokensChanges(read: Tokens, prepared: string[], depth: number): number {
  if (read.unsure) return S.Unknown;
  const { statements, unsure } = splitStatements(read.tokens);
  let mask = unsure ? S.Unknown : 0;
  for (const stmt of statements) mask |= statementChanges(stmt, prepared, depth);
  return mask;
}

function stringChanges(token: Token, prepared: string[], depth: number): number {
  // Backslash escapes would have to be decoded first: treat as unreadable.
  if (token.escaped) return S.Unknown;
  return textChanges(token.value, prepared, depth);
}

// What a statement starting at `at` changes by its leading keywords.
function leadingChanges(stmt: readonly Token[], at: number, prepared: string[]): number {
  switch (wordAt(stmt, at)) {
    case "set": {
      let i = at + 1;
      const modifier = wordAt(stmt, i);
      if (modifier !== undefined && SET_HARMLESS.has(modifier) && stmt[i + 1]?.value !== ".") {
        return 0;
      }
      if (modifier === "session") {
        if (wordAt(stmt, i + 1) === "authorization") return S.Role;
        i++;
      }
      // The setting's name may be quoted: SET "role" = app.
      const what = nameAt(stmt, i);
      if (
        what === "role" || what === "session_authorization" ||
        (what === "session" && wordAt(stmt, i + 1) === "authorization")
      ) return S.Role;
      return S.Settings;
    }
    case "reset": {
      const what = nameAt(stmt, at + 1);
      return what === "role" || what === "session" || what === "session_authorization"
        ? S.Role
        : S.Settings;
    }
    case "listen":
      return S.Listen;
    case "load":
      return S.Lasting;
    case "discard":
      return wordAt(stmt, at + 1) === "all" ? S.Wiped : wordAt(stmt, at + 1) === "temp" ||
          wordAt(stmt, at + 1) === "temporary"
        ? S.Temp
        : 0;
    case "deallocate": {
      const what = wordAt(stmt, at + 1) === "prepare" ? at + 2 : at + 1;
      return wordAt(stmt, what) === "all" ? S.Wiped : 0;
    }
    case "prepare": {
      const name = stmt[at + 1];
      if (name === undefined) return S.Unknown;
      if (name.kind === TokenKind.Word) {
        // PREPARE TRANSACTION 'id' is transaction control; PREPARE transaction AS ... is not.
        const next = stmt[at + 2]?.value;
        if (name.value === "transaction" && next !== "as" && next !== "(") return 0;
        prepared.push(name.value);
      } else if (name.kind === TokenKind.Ident) {
        prepared.push(`"${name.value.replaceAll('"', '""')}"`);
      } else return S.Unknown;
      return S.Prepared;
    }
    default:
      return 0;
  }
}

// set_config(name, value, true): the change ends with the transaction.
function isLocalSetConfig(stmt: readonly Token[], i: number): boolean {
  const open = stmt[i + 1];
  if (open === undefined || open.kind !== TokenKind.Punct || open.value !== "(") return false;
  let depth = 0;
  let commas = 0;
  let third = -1;
  for (let j = i + 1; j < stmt.length; j++) {
    const token = stmt[j];
    if (token.kind !== TokenKind.Punct) continue;
    const c = token.value;
    if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") {
      if (--depth === 0) {
        return commas === 2 && j === third + 2 && wordAt(stmt, third + 1) === "true";
      }
    } else if (c === "," && depth === 1 && ++commas === 2) third = j;
  }
  return false;
}
