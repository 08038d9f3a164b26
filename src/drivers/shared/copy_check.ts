/**
 * `COPY` refused before anything is sent: the pool has no API for the copy
 * sub-protocol, and the clients answer it in ways that break a pooled
 * session (postgres.js hands out a stream that, left alone, ends the process
 * with an unhandled `error`; node-postgres fails the copy; Bun.SQL varies).
 * A statement is `COPY` when its first word is, after whitespace and
 * comments; words inside literals, quoted identifiers, dollar quotes and
 * comments are skipped.
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

/**
 * The error for a text that runs `COPY`, or `undefined`.
 *
 * @param text SQL text.
 * @returns A {@linkcode QueryError} (code `0A000`, feature not supported) when a statement is `COPY`.
 */
export function copyRefusal(text: string): QueryError | undefined {
  // Cheap first: a text without the letters c, o, p, y in a row is no COPY.
  if (!mentionsCopy(text)) return undefined;
  return runsCopy(text)
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

function runsCopy(s: string): boolean {
  let atStart = true;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c <= 32) {
      i++;
    } else if (c === DASH && s.charCodeAt(i + 1) === DASH) {
      const end = s.indexOf("\n", i);
      i = end < 0 ? s.length : end + 1;
    } else if (c === SLASH && s.charCodeAt(i + 1) === STAR) {
      i = skipBlockComment(s, i);
    } else if (c === SEMI) {
      atStart = true;
      i++;
    } else if (c === SINGLE) {
      i = skipQuoted(s, i, SINGLE, isEscapeString(s, i));
      atStart = false;
    } else if (c === DOUBLE) {
      i = skipQuoted(s, i, DOUBLE, false);
      atStart = false;
    } else if (c === DOLLAR) {
      i = skipDollar(s, i);
      atStart = false;
    } else {
      const start = i;
      while (i < s.length && isWordChar(s.charCodeAt(i))) i++;
      if (i === start) i++;
      else if (atStart && i - start === 4 && s.slice(start, i).toLowerCase() === "copy") {
        return true;
      }
      atStart = false;
    }
  }
  return false;
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 95 || c > 127;
}

// E'...' (or e'...') strings take backslash escapes.
function isEscapeString(s: string, quote: number): boolean {
  return quote > 0 && (s.charCodeAt(quote - 1) | 32) === 101 &&
    (quote === 1 || !isWordChar(s.charCodeAt(quote - 2)));
}

function skipQuoted(s: string, i: number, quote: number, backslashes: boolean): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (backslashes && c === BACKSLASH) i++;
    else if (c === quote) {
      if (s.charCodeAt(i + 1) !== quote) return i + 1;
      i++; // a doubled quote
    }
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
  while (j < s.length && isWordChar(s.charCodeAt(j)) && !(j === i + 1 && isDigit(s, j))) j++;
  if (s.charCodeAt(j) !== DOLLAR) return i + 1;
  const tag = s.slice(i, j + 1);
  const end = s.indexOf(tag, j + 1);
  return end < 0 ? s.length : end + tag.length;
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
}
