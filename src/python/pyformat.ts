/**
 * `paramstyle: "pyformat"`, as psycopg2 reads it: `%s` (positional, params in
 * an array) or `%(name)s` (named, params in an object), `%%` for a literal
 * `%`. Each text is translated once to `$n` placeholders (cached); then each
 * call only orders its values. Placeholders are looked for with the SQL
 * tokenizer, so a `%s` inside a string, a quoted identifier, a comment or a
 * dollar quote stays text (a `%%` there is a `%`, as in psycopg2). Without params the text goes as written, `%` and
 * all (psycopg2 does the same).
 *
 * @module
 */
import { QueryParamsError } from "../errors.ts";
import { tokenize, TokenKind } from "../sql/tokenizer.ts";
import { TextCache } from "../sql/text_cache.ts";

/** How a group writes query parameters: `$1` (numeric, the default) or psycopg2's `%s`. */
export type ParamStyle = "numeric" | "pyformat";

/** Parameters of a query: values for `$1`/`%s` in order, or by name for `%(name)s`. */
export type QueryParams = readonly unknown[] | Readonly<Record<string, unknown>>;

/** A text translated once: its `$n` form and what each `$n` stands for. */
interface Translation {
  readonly text: string;
  /** Number of `%s` placeholders, when positional. */
  readonly count: number;
  /** For named placeholders: the name behind each `$n`, in order; `undefined` when positional. */
  readonly names: readonly string[] | undefined;
  /** Why the text cannot be used with params, if it cannot. */
  readonly error: string | undefined;
}

// Bounded as read_sql's: many long distinct texts must not pin tens of megabytes.
const cache = new TextCache<Translation>();

/**
 * Turns a pyformat query into a `$n` query and its values in order.
 *
 * @param text SQL text with `%s` or `%(name)s` placeholders.
 * @param params An array for `%s`, an object for `%(name)s`; `undefined`: the text goes as is.
 * @returns The `$n` text and the values, or the {@linkcode QueryParamsError} to reject with.
 *
 * @example Named placeholders
 * ```ts
 * import { toNumeric } from "./pyformat.ts";
 * toNumeric("SELECT * FROM t WHERE a = %(a)s OR b = %(a)s", { a: 1 });
 * // { text: "SELECT * FROM t WHERE a = $1 OR b = $1", params: [1] }
 * ```
 */
export function toNumeric(
  text: string,
  params: QueryParams | undefined,
): { text: string; params: readonly unknown[] | undefined } | QueryParamsError {
  if (params === undefined) return { text, params };
  const t = translation(text);
  if (t.error !== undefined) return new QueryParamsError(`Cannot run the query: ${t.error}`);
  if (t.names === undefined) {
    // psycopg2 takes a mapping for a text without placeholders too.
    if (t.count === 0 && !Array.isArray(params) && typeof params === "object" && params !== null) {
      return { text: t.text, params: [] };
    }
    if (!Array.isArray(params)) {
      return new QueryParamsError(
        `Cannot run the query: it has ${t.count} %s placeholder(s), so params must be an array, got ${
          kindOf(params)
        }`,
      );
    }
    if (params.length !== t.count) {
      return new QueryParamsError(
        `Cannot run the query: it has ${t.count} %s placeholder(s) but ${params.length} param(s) were given`,
      );
    }
    return { text: t.text, params };
  }
  if (
    Array.isArray(params) || typeof params !== "object" || params === null || isCollection(params)
  ) {
    return new QueryParamsError(
      `Cannot run the query: it has %(name)s placeholders, so params must be an object by name, got ${
        kindOf(params)
      }`,
    );
  }
  const named = params as Readonly<Record<string, unknown>>;
  const values = new Array<unknown>(t.names.length);
  for (let i = 0; i < t.names.length; i++) {
    const name = t.names[i];
    if (!Object.hasOwn(named, name)) {
      return new QueryParamsError(
        `Cannot run the query: no param named ${JSON.stringify(name)} for %(${name})s`,
      );
    }
    values[i] = named[name];
  }
  return { text: t.text, params: values };
}

/** A character a PostgreSQL name may hold: letters, digits, `_`, `$`, anything past ASCII. */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 ||
    c === 36 || c >= 128;
}

// A Map or Set holds its entries apart from its keys: `%(a)s` would find nothing.
function isCollection(value: object): boolean {
  return value instanceof Map || value instanceof Set;
}

/** What params were, for a message: `a string`, `null`, `a Map`, `an array`… */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Map) return "a Map";
  if (value instanceof Set) return "a Set";
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function translation(text: string): Translation {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const t = translate(text);
  cache.set(text, t);
  return t;
}

// Text between placeholders holds a `%` only inside literals, quoted names and
// comments: psycopg2 reads `%%` there as `%` too (`'50%% off'` stores "50% off").
function literalPercents(slice: string): string {
  return slice.includes("%%") ? slice.replaceAll("%%", "%") : slice;
}

function failed(error: string): Translation {
  return { text: "", count: 0, names: undefined, error };
}

// Every `%` outside literals and comments sits in an operator token: only those are read.
function translate(text: string): Translation {
  if (!text.includes("%")) return { text, count: 0, names: undefined, error: undefined };
  const { tokens, unsure } = tokenize(text);
  if (unsure) {
    return failed(
      "its placeholders cannot be found: the text holds an unterminated string, comment or quoted name, or a character SQL does not use",
    );
  }
  let out = "";
  let copied = 0; // text before this index is in `out`
  let positional = 0;
  const names: string[] = [];
  // Each name's $n, found in one look-up: a bulk insert can name tens of thousands.
  const numbers = new Map<string, number>();
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k];
    // A `$n` of the text's own would silently take the value of the `%s` translated to it.
    if (token.kind === TokenKind.Other && token.value.charCodeAt(0) === 36 /* $ */) {
      return failed(`it holds ${token.value}: with paramstyle pyformat write %s or %(name)s`);
    }
    if (token.kind !== TokenKind.Other || token.at === undefined || token.at < copied) continue;
    const end = token.at + token.value.length;
    for (let i = Math.max(token.at, copied); i < end; i++) {
      if (text.charCodeAt(i) !== 37 /* % */) continue;
      const next = text[i + 1];
      let skip: number;
      let param: string;
      if (next === "%") {
        [skip, param] = [2, "%"];
      } else if (next === "s") {
        [skip, param] = [2, `$${++positional}`];
      } else if (next === "(") {
        const close = text.indexOf(")", i + 2);
        if (close < 0 || text[close + 1] !== "s") {
          return failed(`"%(" at offset ${i} is not a %(name)s placeholder`);
        }
        const name = text.slice(i + 2, close);
        // The tokenizer read such a name as the start of a literal or comment: it would
        // disagree with this scan about what lies behind it.
        if (/['"$]|--|\/\*/.test(name)) {
          return failed(
            `the name in "%(${name})s" at offset ${i} holds a quote, $, -- or /*: use another name`,
          );
        }
        let n = numbers.get(name);
        if (n === undefined) numbers.set(name, n = names.push(name) - 1);
        [skip, param] = [close + 2 - i, `$${n + 1}`];
      } else {
        return failed(
          `"%${
            next ?? ""
          }" at offset ${i} is no placeholder: write %s, %(name)s, or %% for a literal %`,
        );
      }
      // "%s0" would become "$10": the server reads another parameter.
      const after = text.charCodeAt(i + skip);
      if (param !== "%" && after >= 48 && after <= 57) {
        return failed(`the placeholder at offset ${i} is followed by a digit: put a space between`);
      }
      // "x%s" would become "x$1": one name (PostgreSQL names may hold "$"), no parameter.
      if (param !== "%" && i > 0 && isNameChar(text.charCodeAt(i - 1))) {
        return failed(`the placeholder at offset ${i} follows a name: put a space between`);
      }
      // psycopg2 expands a tuple after IN; here a value is one parameter.
      const before = tokens[k - 1];
      if (
        param !== "%" && i === token.at && before?.kind === TokenKind.Word && before.value === "in"
      ) {
        return failed(
          `"IN ${
            text.slice(i, i + skip)
          }" at offset ${i}: a value is one parameter here, not a list; write = ANY(%s) with an array (or NOT IN: <> ALL(%s))`,
        );
      }
      out += literalPercents(text.slice(copied, i)) + param;
      copied = i + skip;
      i = copied - 1;
    }
  }
  if (positional > 0 && names.length > 0) {
    return failed("it mixes %s and %(name)s placeholders: use one kind");
  }
  out += literalPercents(text.slice(copied));
  return {
    text: out,
    count: positional,
    names: names.length > 0 ? names : undefined,
    error: undefined,
  };
}
