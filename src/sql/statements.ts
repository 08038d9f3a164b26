/**
 * Statements of a tokenized text, and their leading keywords.
 *
 * A `;` ends a statement only outside parentheses and outside the
 * `BEGIN ATOMIC ... END` body of `CREATE FUNCTION` / `CREATE PROCEDURE`
 * (where `;` separates the body's statements), as psql splits them. In any
 * other statement `begin atomic` is no body (`SELECT begin atomic FROM t`
 * is a column and its alias), so the next `;` ends it.
 *
 * @module
 */
import { type Token, TokenKind } from "./tokenizer.ts";

/** Statements split from tokens. */
export interface Statements {
  /** Each statement's tokens, without the `;`; empty statements left out. */
  readonly statements: Token[][];
  /** Parentheses or an atomic body did not balance. */
  readonly unsure: boolean;
}

/**
 * The keyword at `index` of a statement: an unquoted word, lower-cased.
 *
 * @param stmt A statement's tokens.
 * @param index Position in it.
 * @returns The word, or `undefined` when that token is not an unquoted word.
 */
export function wordAt(stmt: readonly Token[], index: number): string | undefined {
  const token = stmt[index];
  return token !== undefined && token.kind === TokenKind.Word ? token.value : undefined;
}

/**
 * A name at `index`: an unquoted word (lower-cased) or a quoted identifier
 * (exact), as the server resolves names of functions, schemas and tables.
 *
 * @param stmt A statement's tokens.
 * @param index Position in it.
 * @returns The name, or `undefined` for any other token.
 */
export function nameAt(stmt: readonly Token[], index: number): string | undefined {
  const token = stmt[index];
  return token !== undefined && token.kind <= TokenKind.Ident ? token.value : undefined;
}

/**
 * Splits tokens into statements.
 *
 * @param tokens Tokens of a whole text.
 * @returns The statements and whether the split is unsure.
 */
export function splitStatements(tokens: readonly Token[]): Statements {
  const statements: Token[][] = [];
  let unsure = false;
  let current: Token[] = [];
  let parens = 0;
  let atomic = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.kind === TokenKind.Punct) {
      const c = token.value;
      if (c === ";" && parens === 0 && atomic === 0) {
        if (current.length > 0) statements.push(current);
        current = [];
        continue;
      }
      if (c === "(" || c === "[") parens++;
      else if (c === ")" || c === "]") {
        if (--parens < 0) (unsure = true, parens = 0);
      }
    } else if (token.kind === TokenKind.Word && parens === 0) {
      const w = token.value;
      if (w === "begin" && wordAt(tokens, i + 1) === "atomic" && definesRoutine(current)) atomic++;
      else if (w === "case" && atomic > 0) atomic++;
      else if (w === "end" && atomic > 0) atomic--;
    }
    current.push(token);
  }
  if (current.length > 0) statements.push(current);
  if (parens !== 0 || atomic !== 0) unsure = true;
  return { statements, unsure };
}

// CREATE [OR REPLACE] FUNCTION | PROCEDURE: the statements that may hold a BEGIN ATOMIC body.
function definesRoutine(stmt: readonly Token[]): boolean {
  if (wordAt(stmt, 0) !== "create") return false;
  const kind = wordAt(stmt, 1) === "or" && wordAt(stmt, 2) === "replace"
    ? wordAt(stmt, 3)
    : wordAt(stmt, 1);
  return kind === "function" || kind === "procedure";
}
