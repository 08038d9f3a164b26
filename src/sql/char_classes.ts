/**
 * What each character is to PostgreSQL's lexer, for the tokenizer: the
 * character codes it tests, spaces, letters, digits, operator and
 * punctuation characters, and how an unquoted word is folded to lower case.
 *
 * @module
 */

// Character codes the tokenizer tests.
export const TAB = 9, LF = 10, CR = 13, QUOTE = 39, DQUOTE = 34, DOLLAR = 36, BACKSLASH = 92;
export const AMP = 38, STAR = 42, SLASH = 47, DASH = 45, DOT = 46, PLUS = 43;
const SPACE = 32;

/** Space, \t, \n, \v, \f, \r. */
export function isSpace(c: number): boolean {
  return c === SPACE || (c >= TAB && c <= CR);
}

/**
 * Where a string constant goes on, as PostgreSQL's `quotecontinue` reads it:
 * after its closing quote, spaces and `--` comments holding at least one line
 * break (`\n` or `\r`), then a quote. `'a'\n'b'` is the one string `ab`,
 * read on in the same mode (an `E''` string's next part takes backslashes too).
 *
 * @param text The SQL text.
 * @param at Just past a string's closing quote.
 * @returns The index of the quote that continues it, or -1.
 */
export function continuedAt(text: string, at: number): number {
  const n = text.length;
  let lineBreak = false;
  let i = at;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === LF || c === CR) {
      lineBreak = true;
      i++;
    } else if (isSpace(c)) i++;
    else if (c === DASH && text.charCodeAt(i + 1) === DASH) {
      while (i < n && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) i++;
    } else break;
  }
  return lineBreak && text.charCodeAt(i) === QUOTE ? i : -1;
}

/** A letter of an unquoted word: ASCII letters, `_`, anything past ASCII. */
export function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}

/** 0 to 9. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** PostgreSQL's operator characters: ~ ! @ # ^ & | ` ? + - * / % < > = */
export function isOperatorChar(c: number): boolean {
  return c === 126 || c === 33 || c === 64 || c === 35 || c === 94 || c === AMP || c === 124 ||
    c === 96 || c === 63 || c === PLUS || c === DASH || c === STAR || c === SLASH || c === 37 ||
    c === 60 || c === 62 || c === 61;
}

/** ( ) [ ] , . : ; */
export function isPunct(c: number): boolean {
  return c === 40 || c === 41 || c === 91 || c === 93 || c === 44 || c === DOT || c === 58 ||
    c === 59;
}

// Lower-cases ASCII letters only: the server folds unquoted identifiers that way
// (String#toLowerCase would also fold the Kelvin sign into "k"). A regular expression over
// one word already cut out, never over the text.
const ASCII_UPPER = /[A-Z]+/g;

/**
 * An unquoted word of `text` as the server reads it: ASCII letters lower-cased, others as they are.
 *
 * @param text The SQL text.
 * @param start Where the word starts.
 * @param end Where it ends (exclusive).
 * @returns The folded word.
 */
export function foldWord(text: string, start: number, end: number): string {
  const raw = text.slice(start, end);
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) >= 128) return raw.replace(ASCII_UPPER, (m) => m.toLowerCase());
  }
  return raw.toLowerCase();
}
