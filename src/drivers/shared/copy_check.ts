/**
 * `COPY` refused before anything is sent: the pool has no API for the copy
 * sub-protocol, and the clients answer it in ways that break a pooled
 * session (postgres.js hands out a stream that, left alone, ends the process
 * with an unhandled `error`; node-postgres fails the copy; Bun.SQL drops the
 * session). A statement is `COPY` when its first word is, after whitespace
 * and comments.
 *
 * The text is read as PostgreSQL's lexer reads it: a `--` comment ends at
 * `\n` or `\r`; `/* *\/` comments nest; a `$` inside a name is part of it
 * (`a$$` opens no dollar quote); a string goes on after a line break and
 * another quote (`'a'\n'b'`), in the same mode; `E''` strings take
 * backslash escapes. Plain `''` strings take them too when the session has
 * `standard_conforming_strings` off, which the pool cannot know: a text
 * whose plain strings hold a backslash is read both ways, and refused when
 * either reading finds `COPY`.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import { QueryError } from "../../errors.ts";

const SINGLE = 39; // '
const DOUBLE = 34; // "
const DOLLAR = 36; // $
const DASH = 45; // -
const SLASH = 47; // /
const STAR = 42; // *
const SEMI = 59; // ;
const BACKSLASH = 92;
const LF = 10;
const CR = 13;

/**
 * The error for a text that runs `COPY`, or `undefined`.
 *
 * @param text SQL text.
 * @returns A {@linkcode QueryError} (code `0A000`, feature not supported) when a statement is `COPY`.
 */
export function copyRefusal(text: string): QueryError | undefined {
  // Cheap first: a text without the letters c, o, p, y in a row is no COPY.
  if (!mentionsCopy(text)) return undefined;
  const plain = scan(text, false);
  const copy = plain === COPY || (plain === BACKSLASH_SEEN && scan(text, true) === COPY);
  return copy
    ? new QueryError(
      "Cannot run COPY through query(): the pool has no copy API; use INSERT ... SELECT, or a client of your own for bulk loads",
      { code: "0A000" },
    )
    : undefined;
}

function mentionsCopy(text: string): boolean {
  for (let i = text.length - 4; i >= 0; i--) {
    if (
      (text.charCodeAt(i) | 32) === 99 && (text.charCodeAt(i + 1) | 32) === 111 &&
      (text.charCodeAt(i + 2) | 32) === 112 && (text.charCodeAt(i + 3) | 32) === 121
    ) return true;
  }
  return false;
}

// What a reading found.
const NO_COPY = 0;
const COPY = 1;
/** No COPY, but a plain string held a backslash: the other reading may differ. */
const BACKSLASH_SEEN = 2;

// String modes: how a '...' string (and its continuation) reads backslashes.
const LITERAL = 0; // standard_conforming_strings on; B'', X'', U&''
const ESCAPES = 1; // E'', or plain strings with standard_conforming_strings off

// Reads the text once; `backslashQuotes` reads plain strings as E'' strings.
function scan(s: string, backslashQuotes: boolean): number {
  let found = NO_COPY;
  // The next backslash at or after the current string, found once for all strings.
  let backslash = -1;
  let atStart = true;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c <= 32) {
      i++;
    } else if (c === DASH && s.charCodeAt(i + 1) === DASH) {
      i = lineEnd(s, i);
    } else if (c === SLASH && s.charCodeAt(i + 1) === STAR) {
      i = skipBlockComment(s, i);
    } else if (c === SEMI) {
      atStart = true;
      i++;
    } else if (c === SINGLE) {
      const end = skipString(s, i, backslashQuotes ? ESCAPES : LITERAL);
      if (!backslashQuotes && found === NO_COPY) {
        if (backslash < i) backslash = s.indexOf("\\", i) >>> 0; // none: past any end
        if (backslash < end) found = BACKSLASH_SEEN;
      }
      i = end;
      atStart = false;
    } else if (c === DOUBLE) {
      i = skipIdentifier(s, i);
      atStart = false;
    } else if (c === DOLLAR) {
      i = skipDollar(s, i);
      atStart = false;
    } else if (isDigit(c)) {
      // A number; letters right after it start a word (`1e'..'` is 1 and an E'' string on
      // servers before 15, an error on later ones).
      while (i < n && (isDigit(s.charCodeAt(i)) || s.charCodeAt(i) === 46)) i++;
      atStart = false;
    } else if (isWordStart(c)) {
      const start = i;
      while (i < n && isWordChar(s.charCodeAt(i))) i++;
      const length = i - start;
      const next = s.charCodeAt(i);
      const first = c | 32;
      if (length === 1 && next === SINGLE && (first === 101 || first === 98 || first === 120)) {
        // E'...' takes backslashes; B'...' and X'...' never do.
        i = skipString(s, i, first === 101 ? ESCAPES : LITERAL);
      } else if (length === 1 && first === 117 && next === 38 && s.charCodeAt(i + 1) === SINGLE) {
        i = skipString(s, i + 1, LITERAL); // U&'...'
      } else if (atStart && length === 4 && s.slice(start, i).toLowerCase() === "copy") {
        return COPY;
      }
      atStart = false;
    } else {
      // An operator or punctuation character: it starts no word.
      i++;
      atStart = false;
    }
  }
  return found;
}

// A word starts with a letter, `_` or a non-ASCII character, and goes on with those, digits
// and `$`, as PostgreSQL's identifiers do.
function isWordStart(c: number): boolean {
  return ((c | 32) >= 97 && (c | 32) <= 122) || c === 95 || c > 127;
}

function isWordChar(c: number): boolean {
  return isWordStart(c) || isDigit(c) || c === DOLLAR;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// The end of a `--` comment: the next \n or \r.
function lineEnd(s: string, i: number): number {
  while (i < s.length && s.charCodeAt(i) !== LF && s.charCodeAt(i) !== CR) i++;
  return i;
}

// Past a '...' string opening at `i`, its continuations included; the text's end if open.
function skipString(s: string, i: number, mode: number): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (mode === ESCAPES && c === BACKSLASH) i++;
    else if (c === SINGLE) {
      if (s.charCodeAt(i + 1) === SINGLE) {
        i++; // a doubled quote
        continue;
      }
      const next = continuedAt(s, i + 1);
      if (next < 0) return i + 1;
      i = next;
    }
  }
  return s.length;
}

// PostgreSQL's quote continuation: spaces and `--` comments holding a line break, then a quote.
function continuedAt(s: string, i: number): number {
  let lineBreak = false;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === LF || c === CR) {
      lineBreak = true;
      i++;
    } else if (c === 32 || (c >= 9 && c <= 13)) i++;
    else if (c === DASH && s.charCodeAt(i + 1) === DASH) i = lineEnd(s, i);
    else break;
  }
  return lineBreak && s.charCodeAt(i) === SINGLE ? i : -1;
}

function skipIdentifier(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    if (s.charCodeAt(i) !== DOUBLE) continue;
    if (s.charCodeAt(i + 1) !== DOUBLE) return i + 1;
    i++; // a doubled quote
  }
  return s.length;
}

function skipBlockComment(s: string, i: number): number {
  let depth = 0;
  while (i < s.length) {
    if (s.charCodeAt(i) === SLASH && s.charCodeAt(i + 1) === STAR) {
      depth++;
      i += 2;
    } else if (s.charCodeAt(i) === STAR && s.charCodeAt(i + 1) === SLASH) {
      i += 2;
      if (--depth === 0) return i;
    } else i++;
  }
  return s.length;
}

// $tag$ ... $tag$; a `$` that opens no tag ($1, a lone $) is one character.
function skipDollar(s: string, i: number): number {
  let j = i + 1;
  if (isWordStart(s.charCodeAt(j))) {
    while (j < s.length && (isWordStart(s.charCodeAt(j)) || isDigit(s.charCodeAt(j)))) j++;
  }
  if (s.charCodeAt(j) !== DOLLAR) return i + 1;
  const tag = s.slice(i, j + 1);
  const end = s.indexOf(tag, j + 1);
  return end < 0 ? s.length : end + tag.length;
}
