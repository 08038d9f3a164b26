/**
 * The tagged template of the handler, `` db.sql`… ${value} …` ``: every
 * interpolated value becomes a `$n` parameter (never text), and
 * {@linkcode sqlFragment} pieces nest, their parameters renumbered in place.
 *
 * @module
 */
import type { QueryResult } from "./handler.ts";
import { tokenize, TokenKind } from "../sql/tokenizer.ts";

/**
 * A piece of SQL with its own parameters, built by {@linkcode sqlFragment},
 * for composing a `db.sql` query from parts (an optional filter, say). Its
 * values stay parameters wherever it is placed.
 */
export class SqlFragment {
  /** The literal parts of the template (one more than `values`). */
  readonly strings: readonly string[];
  /** The interpolated values, in order. */
  readonly values: readonly unknown[];

  /**
   * Prefer {@linkcode sqlFragment}.
   *
   * @param strings The literal parts.
   * @param values The values between them.
   */
  constructor(strings: readonly string[], values: readonly unknown[]) {
    this.strings = strings;
    this.values = values;
  }
}

/**
 * Builds a {@linkcode SqlFragment}: a piece of SQL whose values are
 * parameters, to place inside `` db.sql`…` `` (or another fragment).
 * Nothing is sent until the enclosing `db.sql` runs.
 *
 * @param strings The template's literal parts.
 * @param values The interpolated values (fragments nest).
 * @returns The fragment.
 * @throws {TypeError} Not called as a tagged template.
 *
 * @example An optional filter
 * ```ts
 * import { sqlFragment, withHandler } from "@x/pgdbpool";
 * const minAge: number | undefined = 18;
 * const filter = minAge === undefined ? sqlFragment`true` : sqlFragment`age >= ${minAge}`;
 * await withHandler("default", (db) => db.sql`SELECT name FROM users WHERE ${filter}`);
 * // sends: SELECT name FROM users WHERE age >= $1   with params [18]
 * ```
 */
export function sqlFragment(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  checkTemplate(strings, "sqlFragment");
  return new SqlFragment(strings, values);
}

/** A query text and its parameters, as `db.query` takes them. */
export interface BuiltSql {
  /** The text, with `$1`, `$2`… where the values were. */
  text: string;
  /** The values, in `$n` order. */
  params: unknown[];
}

// One call site always passes the same strings object: its text is built once.
const flatTexts = new WeakMap<readonly string[], string>();

/**
 * Turns a template into a query text with `$n` placeholders and its
 * parameters. A value that is an array is one (array) parameter; a
 * {@linkcode SqlFragment} is inlined with its own values as parameters.
 *
 * @param strings The template's literal parts.
 * @param values The interpolated values.
 * @returns The text and the parameters.
 * @throws {TypeError} Not called as a tagged template.
 */
export function buildSql(strings: readonly string[], values: readonly unknown[]): BuiltSql {
  checkTemplate(strings, "db.sql");
  if (!values.some((v) => v instanceof SqlFragment)) {
    let text = flatTexts.get(strings);
    if (text === undefined) {
      text = strings[0];
      for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
      checkPlaceholders(text, strings.length - 1);
      flatTexts.set(strings, text);
    }
    return { text, params: values.slice() };
  }
  const params: unknown[] = [];
  return { text: append(strings, values, params, 0), params };
}

function append(
  strings: readonly string[],
  values: readonly unknown[],
  params: unknown[],
  depth: number,
): string {
  // A fragment that contains itself would recurse for ever.
  if (depth > 32) throw new TypeError("Invalid sql fragment: nested more than 32 levels deep");
  if (!checked.has(strings)) {
    let own = strings[0];
    for (let i = 1; i < strings.length; i++) own += `$${i}${strings[i]}`;
    checkPlaceholders(own, strings.length - 1);
    checked.add(strings);
  }
  let text = strings[0];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value instanceof SqlFragment) {
      text += append(value.strings, value.values, params, depth + 1);
    } else {
      params.push(value);
      text += `$${params.length}`;
    }
    text += strings[i + 1];
  }
  return text;
}

// Templates (of fragments) whose placeholders were checked: once per call site.
const checked = new WeakSet<readonly string[]>();

// Each value must be a `$n` of its own the server reads as one: not a `$n` the template
// wrote itself (it would take a value silently), nor one inside a string or comment.
function checkPlaceholders(text: string, values: number): void {
  const { tokens, unsure } = tokenize(text);
  if (unsure) return; // the server will say what is wrong with it
  let seen = 0;
  for (const t of tokens) {
    if (t.kind !== TokenKind.Other || t.value.charCodeAt(0) !== 36) continue;
    // Numbered left to right: another number is the template's own, or a digit glued to a value.
    if (t.value !== `$${++seen}`) {
      throw new TypeError(
        `Invalid sql template: it reads ${t.value} where the tag put $${seen}: write no $n of your own, and no digit right after a value`,
      );
    }
  }
  if (seen > values) {
    throw new TypeError(
      "Invalid sql template: it holds $n placeholders of its own; the tag numbers the values, write ${value}",
    );
  }
  if (seen < values) {
    throw new TypeError(
      "Invalid sql template: a value sits inside a quoted string, quoted name or comment, or is glued to a name, where it is not a parameter",
    );
  }
}

function checkTemplate(strings: readonly string[], name: string): void {
  if (!Array.isArray(strings) || !Array.isArray((strings as unknown as { raw?: unknown }).raw)) {
    throw new TypeError(
      `${name} is a tagged template: write ${name}\`SELECT … \${value}\` (values become $n parameters), ` +
        "or call db.query(text, params)",
    );
  }
}

/** What the tag needs of a handler: its `query`. */
export interface Queryable {
  query<R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
}

/**
 * Runs a tagged template through `db.query`: the same result, errors and
 * transaction tracking as `db.query(text, params)`.
 *
 * @param db The handler.
 * @param strings The template's literal parts.
 * @param values The interpolated values.
 * @returns The query's result.
 */
export function sqlQuery<R>(
  db: Queryable | undefined,
  strings: TemplateStringsArray,
  values: readonly unknown[],
): Promise<QueryResult<R>> {
  try {
    const built = buildSql(strings, values);
    if (db === undefined) {
      throw new TypeError(
        "db.sql was called off its handler (const { sql } = db): call it as db.sql`…`",
      );
    }
    return db.query<R>(built.text, built.params);
  } catch (err) {
    return Promise.reject(err);
  }
}
