/**
 * A quick, sound pre-check before tokenizing: every verdict of interest
 * needs one of a few words (`begin`, `set`, `temp`, `pg_advisory_lock`…) as
 * a token, and every such token is also a run of identifier characters in
 * the raw text (one not starting with a digit: `$1begin` holds a word). A
 * text with no such run anywhere — in code, strings or comments alike — is
 * clean whatever its structure (unreadable, the server refuses it whole), so
 * most query texts skip the tokenizer's allocations. A text with one is read
 * in full.
 *
 * @module
 */
import { SQL_RUNNERS } from "./dynamic_sql.ts";

// Words some decision needs, and the functions that run SQL given as text; plus any word
// starting with pg_temp.
const WORDS = new Set([
  ...SQL_RUNNERS,
  "abort",
  "begin",
  "commit",
  "deallocate",
  "discard",
  "do",
  "end",
  "execute",
  "hold",
  "listen",
  "load",
  "pg_advisory_lock",
  "pg_advisory_lock_shared",
  "pg_settings",
  "pg_try_advisory_lock",
  "pg_try_advisory_lock_shared",
  "prepare",
  "release",
  "reset",
  "rollback",
  "savepoint",
  "set",
  "set_config",
  "start",
  "statement_timeout",
  "temp",
  "temporary",
]);

const LONGEST = 27;

// Words are compared by a hash folded while scanning: no string is made per word. A
// collision only costs a full read.
function hashOf(word: string): number {
  let h = 0;
  for (let i = 0; i < word.length; i++) h = (Math.imul(h, 31) + word.charCodeAt(i)) | 0;
  return h;
}

const HASHES = new Set([...WORDS].map(hashOf));
const PG_TEMP = hashOf("pg_temp");

// Letters, digits, _ and anything beyond ASCII; `$` splits runs (`a$begin` is not begin, but
// reading it as such costs only a full read).
function isRunChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 ||
    c >= 128;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Whether a text may hold anything the pool must read closely.
 *
 * @param text SQL text.
 * @returns `false` only when no statement of it can control the transaction or change the session.
 */
export function mayMatter(text: string): boolean {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const first = text.charCodeAt(i);
    // Leading digits start no word, but may end one just before it: `$1begin` is $1 and begin,
    // `1e5begin` is 1e5 and begin (an exponent's e belongs to the number).
    if (!isRunChar(first) || (first >= 48 && first <= 57)) {
      // A NUL: no text may hold one; the full read says where.
      if (first === 0) return true;
      i++;
      if (isDigit(first) && (text.charCodeAt(i) | 32) === 101 && isDigit(text.charCodeAt(i + 1))) {
        i++;
      }
      continue;
    }
    const start = i;
    let h = 0;
    while (i < n) {
      let c = text.charCodeAt(i);
      if (!isRunChar(c)) break;
      // ASCII folding, as the server folds unquoted names.
      if (c >= 65 && c <= 90) c += 32;
      h = (Math.imul(h, 31) + c) | 0;
      if (++i - start === 7 && h === PG_TEMP) return true;
    }
    const length = i - start;
    // U&'...' and U&"...": escapes, which the tokenizer reads as unsure. Let it see them.
    if (length === 1 && (text.charCodeAt(start) | 32) === 117 && text.charCodeAt(i) === 38) {
      return true;
    }
    if (length >= 2 && length <= LONGEST && HASHES.has(h)) return true;
  }
  return false;
}
