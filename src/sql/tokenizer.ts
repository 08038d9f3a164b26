/**
 * A small SQL tokenizer, one character loop, following PostgreSQL's lexer
 * where it matters for reading statements: comments (`--` to the end of the
 * line, `\n` or `\r`, nested `/* *\/`), quoted identifiers, strings (`''`,
 * `E''` with backslash escapes, `U&''`, parts continued on the next line),
 * dollar quotes (never right after a word: `a$$` is one name), positional
 * parameters, numbers, operators and punctuation. Anything it cannot close or
 * place makes the result `unsure`: its readers then assume the worst.
 *
 * @module
 */
import {
  AMP,
  BACKSLASH,
  continuedAt,
  CR,
  DASH,
  DOLLAR,
  DOT,
  DQUOTE,
  foldWord,
  isDigit,
  isLetter,
  isOperatorChar,
  isPunct,
  isSpace,
  LF,
  PLUS,
  QUOTE,
  SLASH,
  STAR,
} from "./char_classes.ts";

/** Kinds of token. */
export const TokenKind = {
  /** An unquoted identifier or keyword; `value` is lower-cased (ASCII only, as the server does). */
  Word: 0,
  /** A quoted identifier; `value` is the name, exact case. */
  Ident: 1,
  /** A string constant (any quoting); `value` is its body, `''` undone. */
  String: 2,
  /** A number, a positional parameter (`$1`) or an operator; `value` is its text. */
  Other: 3,
  /** One of `( ) [ ] , . : ;`. */
  Punct: 4,
} as const;

/** A kind of token. */
export type TokenKind = typeof TokenKind[keyof typeof TokenKind];

/** One token. */
export interface Token {
  /** Its kind. */
  readonly kind: TokenKind;
  /** Its text, see {@linkcode TokenKind}. */
  readonly value: string;
  /** A string whose body holds backslash escapes (`E''`) or a `U&` constant: `value` is raw. */
  readonly escaped?: boolean;
  /** Where an operator starts in the text (operators only: pyformat placeholders are found by it). */
  readonly at?: number;
}

/** What {@linkcode tokenize} read. */
export interface Tokens {
  /** The tokens, comments and whitespace left out. */
  readonly tokens: Token[];
  /** Something was left open (comment, string, quoted identifier, dollar quote) or unknown. */
  readonly unsure: boolean;
  /** A plain `'...'` string held a backslash: with `standard_conforming_strings` off it reads otherwise. */
  readonly backslashInString: boolean;
  /**
   * A string, quoted identifier, dollar quote or comment is still open at the
   * end: the server refuses such a text whole, before running any of it.
   */
  readonly unclosed: boolean;
}

/**
 * Splits SQL text into tokens.
 *
 * @param text SQL text, possibly several statements.
 * @param backslashQuotes Read plain `'...'` strings as `standard_conforming_strings = off` does.
 * @returns The tokens and whether the reading is unsure.
 */
export function tokenize(text: string, backslashQuotes = false): Tokens {
  const tokens: Token[] = [];
  const n = text.length;
  let unsure = false;
  let backslashInString = false;
  let i = 0;
  // Reads a '...' string whose opening quote is at `i`; returns the index after it, or -1.
  // `backslashes`: they escape (E''); `plain`: a backslash makes the other reading differ.
  const readString = (backslashes: boolean, escaped: boolean, plain = false): number => {
    let body = "";
    let j = i + 1;
    let from = j;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === BACKSLASH) {
        if (!backslashes) backslashInString ||= plain;
        else {
          j += 2;
          escaped = true;
          continue;
        }
      } else if (c === QUOTE) {
        if (text.charCodeAt(j + 1) === QUOTE) {
          body += text.slice(from, j + 1);
          j += 2;
          from = j;
          continue;
        }
        body += text.slice(from, j);
        const next = continuedAt(text, j + 1);
        if (next < 0) {
          tokens.push({ kind: TokenKind.String, value: body, escaped });
          return j + 1;
        }
        j = from = next + 1;
        continue;
      }
      j++;
    }
    return -1;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    const d = text.charCodeAt(i + 1);
    if (isSpace(c)) {
      i++;
    } else if (c === DASH && d === DASH) {
      while (i < n && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) i++;
    } else if (c === SLASH && d === STAR) {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        const a = text.charCodeAt(i);
        const b = text.charCodeAt(i + 1);
        if (a === SLASH && b === STAR) (depth++, i += 2);
        else if (a === STAR && b === SLASH) (depth--, i += 2);
        else i++;
      }
      if (depth > 0) return { tokens, unsure: true, backslashInString, unclosed: true };
    } else if (isLetter(c)) {
      let j = i + 1;
      while (j < n) {
        const a = text.charCodeAt(j);
        if (!isLetter(a) && !isDigit(a) && a !== DOLLAR) break;
        j++;
      }
      const next = text.charCodeAt(j);
      const single = j === i + 1 ? c | 32 : 0;
      if (single === 101 && next === QUOTE) {
        // E'...': backslash escapes.
        i = j;
        i = readString(true, false);
      } else if ((single === 98 || single === 120) && next === QUOTE) {
        // B'...', X'...': bit strings, never with backslash escapes.
        i = j;
        i = readString(false, false);
      } else if (single === 117 && next === AMP && text.charCodeAt(j + 1) === QUOTE) {
        // U&'...': escapes decoded by the server; the body is kept raw.
        i = j + 1;
        // A server with standard_conforming_strings off refuses it: one reading is enough.
        i = readString(false, true);
      } else if (single === 117 && next === AMP && text.charCodeAt(j + 1) === DQUOTE) {
        // U&"...": a name in escapes nobody reads here.
        unsure = true;
        i = j + 1;
      } else {
        tokens.push({ kind: TokenKind.Word, value: foldWord(text, i, j) });
        i = j;
      }
      if (i < 0) return { tokens, unsure: true, backslashInString, unclosed: true };
    } else if (c === QUOTE) {
      i = readString(backslashQuotes, false, true);
      if (i < 0) return { tokens, unsure: true, backslashInString, unclosed: true };
    } else if (c === DQUOTE) {
      let name = "";
      let j = i + 1;
      for (;;) {
        const end = text.indexOf('"', j);
        if (end < 0) return { tokens, unsure: true, backslashInString, unclosed: true };
        name += text.slice(j, end);
        if (text.charCodeAt(end + 1) !== DQUOTE) {
          i = end + 1;
          break;
        }
        name += '"';
        j = end + 2;
      }
      tokens.push({ kind: TokenKind.Ident, value: name });
    } else if (c === DOLLAR) {
      if (isDigit(d)) {
        let j = i + 1;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
        tokens.push({ kind: TokenKind.Other, value: text.slice(i, j) });
        i = j;
        continue;
      }
      let j = i + 1;
      if (isLetter(d)) {
        while (j < n && (isLetter(text.charCodeAt(j)) || isDigit(text.charCodeAt(j)))) j++;
      }
      if (text.charCodeAt(j) !== DOLLAR) {
        unsure = true;
        i++;
        continue;
      }
      const tag = text.slice(i, j + 1);
      const end = text.indexOf(tag, j + 1);
      if (end < 0) return { tokens, unsure: true, backslashInString, unclosed: true };
      tokens.push({ kind: TokenKind.String, value: text.slice(j + 1, end) });
      i = end + tag.length;
    } else if (isDigit(c) || (c === DOT && isDigit(d))) {
      // Digits, a point, an exponent; letters right after start a word, as servers before
      // PostgreSQL 15 read them (`1into` is 1 and INTO; later servers refuse the text).
      let j = i + 1;
      while (j < n && (isDigit(text.charCodeAt(j)) || text.charCodeAt(j) === DOT)) j++;
      if ((text.charCodeAt(j) | 32) === 101) {
        const sign = text.charCodeAt(j + 1) === PLUS || text.charCodeAt(j + 1) === DASH ? 1 : 0;
        if (isDigit(text.charCodeAt(j + 1 + sign))) {
          j += 1 + sign;
          while (j < n && isDigit(text.charCodeAt(j))) j++;
        }
      }
      tokens.push({ kind: TokenKind.Other, value: text.slice(i, j) });
      i = j;
    } else if (isPunct(c)) {
      tokens.push({ kind: TokenKind.Punct, value: text[i] });
      i++;
    } else if (isOperatorChar(c)) {
      // An operator ends where a comment begins: `+--x` is `+` and a comment.
      let j = i + 1;
      while (j < n && isOperatorChar(text.charCodeAt(j))) {
        const a = text.charCodeAt(j);
        const b = text.charCodeAt(j + 1);
        if ((a === DASH && b === DASH) || (a === SLASH && b === STAR)) break;
        j++;
      }
      tokens.push({ kind: TokenKind.Other, value: text.slice(i, j), at: i });
      i = j;
    } else {
      // A backslash, a brace, a control character: nothing the server reads as SQL.
      unsure = true;
      i++;
    }
  }
  return { tokens, unsure, backslashInString, unclosed: false };
}
