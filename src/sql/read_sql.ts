/**
 * The pool's reading of a query text, in one verdict: does it control the
 * transaction, where does it leave it, which session state does it change.
 * Verdicts are cached per text (bounded), so the hot path pays one `Map`
 * lookup; what cannot be read is assumed the worst (transaction control, a
 * transaction possibly open, a dirty session).
 *
 * @module
 */
import { type Token, tokenize, TokenKind, type Tokens } from "./tokenizer.ts";
import { splitStatements } from "./statements.ts";
import { mayCommit, transactionEffect, TxEffect } from "./transaction_effects.ts";
import { statementChanges } from "./statement_changes.ts";
import { SessionChange } from "./session_changes.ts";
import { mayMatter } from "./quick_scan.ts";
import { TextCache } from "./text_cache.ts";

/** What a query text does to its session. */
export interface SqlVerdict {
  /** A statement starts, ends or marks a transaction (or the text cannot be read). */
  readonly controls: boolean;
  /** Where the transaction stands once the text ran to its end. */
  readonly tx: TxEffect;
  /** A statement commits work, or may (`COMMIT`, `END`, `COMMIT PREPARED`, `PREPARE TRANSACTION`, an unreadable text). */
  readonly commits: boolean;
  /** {@linkcode SessionChange} bits to undo before the session is reused. */
  readonly changes: number;
  /** Names created with `PREPARE`, ready for `DEALLOCATE`. */
  readonly prepared: readonly string[];
  /** The text could not be read for sure (an unterminated string or comment, an odd character). */
  readonly unsure: boolean;
  /**
   * The text may lift the server's deadline: it names `statement_timeout` anywhere (a
   * `SET LOCAL`, a `set_config()` argument, a string), or cannot be read.
   */
  readonly liftsDeadline: boolean;
  /** Where the first NUL character (U+0000) is, which no PostgreSQL text can hold; -1: none. */
  readonly nulAt: number;
}

const NONE: readonly string[] = Object.freeze([]);

const CLEAN: SqlVerdict = Object.freeze({
  controls: false,
  tx: TxEffect.None,
  commits: false,
  changes: 0,
  prepared: NONE,
  unsure: false,
  liftsDeadline: false,
  nulAt: -1,
});

// What cannot be read is assumed the worst.
const UNREADABLE: SqlVerdict = Object.freeze({
  controls: true,
  tx: TxEffect.Unknown,
  commits: true,
  changes: SessionChange.Unknown,
  prepared: NONE,
  unsure: true,
  liftsDeadline: true,
  nulAt: -1,
});

const cache = new TextCache<SqlVerdict>();

/**
 * Reads a query text (cached).
 *
 * @param text SQL text, possibly several statements.
 * @returns Its verdict; the same frozen object for every clean text.
 */
export function readSql(text: string): SqlVerdict {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const verdict = mayMatter(text) ? analyzeSql(text) : CLEAN;
  cache.set(text, verdict);
  return verdict;
}

/**
 * What a text changes in the session.
 *
 * @param text SQL text, possibly several statements.
 * @param prepared Collects the names of statements created with `PREPARE`.
 * @returns A mask of {@linkcode SessionChange} bits; 0 for most queries.
 */
export function sessionChanges(text: string, prepared: string[]): number {
  const verdict = readSql(text);
  if (verdict.prepared.length > 0) prepared.push(...verdict.prepared);
  return verdict.changes;
}

/**
 * Reads a text in full: no cache, no quick pre-check (tests compare the two).
 *
 * @param text SQL text, possibly several statements.
 * @returns Its verdict.
 */
export function analyzeSql(text: string): SqlVerdict {
  const nulAt = text.indexOf("\0");
  if (nulAt >= 0) return { ...UNREADABLE, nulAt };
  const plain = tokenize(text);
  const verdict = verdictOf(plain);
  if (!plain.backslashInString) return verdict;
  // With standard_conforming_strings off a backslash escapes a quote: read it that way too,
  // and where the two readings differ, take the worse. Where that reading leaves a string
  // open, such a server rejects the whole text: it adds nothing.
  const other = tokenize(text, true);
  return other.unclosed ? verdict : merge(verdict, verdictOf(other));
}

function verdictOf(read: Tokens): SqlVerdict {
  const { statements, unsure } = splitStatements(read.tokens);
  if (read.unsure || unsure) return UNREADABLE;
  let controls = false;
  let tx: TxEffect = TxEffect.None;
  let commits = false;
  let changes = 0;
  const prepared: string[] = [];
  for (const stmt of statements) {
    const effect = transactionEffect(stmt);
    if (effect !== undefined) {
      controls = true;
      if (effect !== TxEffect.None) tx = effect;
      if (mayCommit(stmt)) commits = true;
    }
    changes |= statementChanges(stmt, prepared);
  }
  const liftsDeadline = namesDeadline(read.tokens);
  if (!controls && changes === 0 && !liftsDeadline) return CLEAN;
  return {
    controls,
    tx,
    commits,
    changes,
    prepared: Object.freeze(prepared),
    unsure: false,
    liftsDeadline,
    nulAt: -1,
  };
}

function merge(a: SqlVerdict, b: SqlVerdict): SqlVerdict {
  if (a === b) return a;
  return {
    controls: a.controls || b.controls,
    tx: a.tx === b.tx ? a.tx : TxEffect.Unknown,
    commits: a.commits || b.commits,
    changes: a.changes | b.changes,
    prepared: Object.freeze([...new Set([...a.prepared, ...b.prepared])]),
    unsure: a.unsure || b.unsure,
    liftsDeadline: a.liftsDeadline || b.liftsDeadline,
    nulAt: -1,
  };
}

// Broad on purpose (strings and quoted names count): a false "yes" only exempts the session
// from stall detection, a false "no" would close a session whose query legitimately runs long.
function namesDeadline(tokens: readonly Token[]): boolean {
  for (const t of tokens) {
    if (t.kind === TokenKind.Punct || t.kind === TokenKind.Other) continue;
    if (t.value.toLowerCase().includes("statement_timeout")) return true;
  }
  return false;
}
