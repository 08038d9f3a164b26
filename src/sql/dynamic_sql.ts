/**
 * SQL run from strings, and how far the pool can read it: a `DO` block's
 * body, PL/pgSQL's `EXECUTE`, and functions that run a query given as text
 * (`query_to_xml()`, `ts_stat()`, tablefunc's `crosstab()`…). Only a string
 * constant can be read; SQL built at run time (`EXECUTE 'SE' || 'T ...'`,
 * `EXECUTE format(...)`, a variable, a parameter) or a body in another
 * language may do anything, so it counts as an unknown change of the session.
 *
 * @module
 */
import { type Token, TokenKind } from "./tokenizer.ts";
import { wordAt } from "./statements.ts";

/** Functions that run SQL handed to them as text. */
export const SQL_RUNNERS: ReadonlySet<string> = new Set([
  "query_to_xml",
  "query_to_xmlschema",
  "query_to_xml_and_xmlschema",
  "ts_stat",
  "ts_rewrite",
  "crosstab",
  "crosstab2",
  "crosstab3",
  "crosstab4",
  "connectby",
  "xpath_table",
]);

// What may follow the string of PL/pgSQL's EXECUTE in a statement.
const AFTER_COMMAND = new Set(["into", "using", "loop"]);

// Words that are values, in the arguments of a SQL runner.
const CONSTANT_WORDS = new Set(["true", "false", "null"]);

/**
 * Whether a `DO` statement's body can be read: one string constant, in
 * PL/pgSQL (the default language). Another language (`DO LANGUAGE plperl`)
 * runs code the pool cannot read.
 *
 * @param stmt The statement's tokens; the first is `do`.
 * @returns `true` when its body is one string of PL/pgSQL.
 */
export function readableDoBlock(stmt: readonly Token[]): boolean {
  let bodies = 0;
  for (let i = 1; i < stmt.length; i++) {
    const token = stmt[i];
    if (token.kind === TokenKind.String) bodies++;
    else if (wordAt(stmt, i) === "language") {
      const name = stmt[++i];
      if (name === undefined || name.kind > TokenKind.String) return false;
      if (name.value.toLowerCase() !== "plpgsql") return false;
    } else return false;
  }
  return bodies === 1;
}

/**
 * Whether PL/pgSQL's `EXECUTE` at `at` runs a string constant, which can be
 * read (`EXECUTE 'SET x = 1'`, `... INTO v`, `... USING a`), rather than a
 * command built at run time.
 *
 * @param stmt The statement's tokens.
 * @param at Where `execute` is.
 * @returns `true` for a lone string constant.
 */
export function executesConstant(stmt: readonly Token[], at: number): boolean {
  if (stmt[at + 1]?.kind !== TokenKind.String) return false;
  const after = stmt[at + 2];
  return after === undefined || AFTER_COMMAND.has(wordAt(stmt, at + 2) ?? "");
}

/**
 * Whether a call of a SQL runner at `at` passes constants only (strings,
 * numbers, `true`, `false`, `null`, with `::type` casts), so that every
 * query it runs is a string the pool reads. A name not followed by `(` is
 * no call.
 *
 * @param stmt The statement's tokens.
 * @param at Where the function's name is.
 * @returns `false` when an argument is computed (an operator, a call, a column, a parameter).
 */
export function constantArguments(stmt: readonly Token[], at: number): boolean {
  const open = stmt[at + 1];
  if (open === undefined || open.kind !== TokenKind.Punct || open.value !== "(") return true;
  for (let i = at + 2; i < stmt.length; i++) {
    const token = stmt[i];
    switch (token.kind) {
      case TokenKind.String:
        continue;
      case TokenKind.Punct:
        if (token.value === ")") return true;
        if (token.value === "," || token.value === ":") continue;
        return false;
      case TokenKind.Other:
        // A number; `$1` or an operator is computed.
        if (isNumber(token.value)) continue;
        return false;
      case TokenKind.Word:
        if (CONSTANT_WORDS.has(token.value) || stmt[i - 1].value === ":") continue;
        return false;
      default:
        return false;
    }
  }
  return false;
}

function isNumber(value: string): boolean {
  const c = value.charCodeAt(value.charCodeAt(0) === 46 ? 1 : 0);
  return c >= 48 && c <= 57;
}
