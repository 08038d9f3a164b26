/**
 * PostgreSQL's text form of arrays (`{a,"b c",NULL,{1,2}}`), read and
 * written by the postgres.js adapter: an unquoted `NULL` element is `null`,
 * a quoted `"NULL"` the string.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
 *
 * @module
 */

interface Cursor {
  i: number;
}

/**
 * Parses an array literal as the server sends it.
 *
 * @param text The literal, possibly with dimensions first (`[0:1]={1,2}`).
 * @param parse The element type's parser, if any.
 * @param delimiter `,`, or `;` for `box[]`.
 * @returns Nested arrays of parsed elements (`null` for `NULL`).
 * @throws {TypeError} When the text is not an array literal.
 */
export function parseArray(
  text: string,
  parse: ((text: string) => unknown) | undefined,
  delimiter: string,
): unknown[] {
  const cursor = { i: text.indexOf("{") };
  if (cursor.i < 0) throw new TypeError(`Cannot parse an array from ${JSON.stringify(text)}`);
  return level(text, cursor, parse, delimiter);
}

function level(
  s: string,
  c: Cursor,
  parse: ((text: string) => unknown) | undefined,
  delimiter: string,
): unknown[] {
  const out: unknown[] = [];
  c.i++; // "{"
  if (s[c.i] === "}") {
    c.i++;
    return out;
  }
  for (;;) {
    const ch = s[c.i];
    if (ch === "{") {
      out.push(level(s, c, parse, delimiter));
    } else if (ch === '"') {
      const value = quoted(s, c);
      out.push(parse ? parse(value) : value);
    } else {
      let j = c.i;
      while (j < s.length && s[j] !== delimiter && s[j] !== "}") j++;
      const raw = s.slice(c.i, j);
      c.i = j;
      out.push(raw.length === 4 && raw.toUpperCase() === "NULL" ? null : parse ? parse(raw) : raw);
    }
    const sep = s[c.i++];
    if (sep === "}") return out;
    if (sep !== delimiter) throw new TypeError(`Cannot parse an array: unexpected end of ${s}`);
  }
}

function quoted(s: string, c: Cursor): string {
  let value = "";
  let from = ++c.i;
  for (; c.i < s.length; c.i++) {
    const ch = s[c.i];
    if (ch === "\\") {
      value += s.slice(from, c.i);
      from = ++c.i;
    } else if (ch === '"') {
      value += s.slice(from, c.i++);
      return value;
    }
  }
  throw new TypeError("Cannot parse an array: unterminated quoted element");
}

/**
 * Writes a JavaScript array as an array literal: every element quoted and
 * escaped, `null` and `undefined` as `NULL`.
 *
 * @param value The array (anything else is returned as is).
 * @param serialize The element type's serialiser, if any.
 * @param delimiter `,`, or `;` for `box[]`.
 * @returns The literal.
 */
export function serializeArray(
  value: unknown,
  serialize: ((value: unknown) => unknown) | undefined,
  delimiter: string,
): unknown {
  if (!Array.isArray(value)) return value;
  let out = "{";
  for (let i = 0; i < value.length; i++) {
    if (i > 0) out += delimiter;
    const x = value[i];
    if (Array.isArray(x)) out += serializeArray(x, serialize, delimiter);
    else if (x === null || x === undefined) out += "NULL";
    else out += `"${escape(String(serialize ? serialize(x) : x))}"`;
  }
  return out + "}";
}

function escape(s: string): string {
  return s.replace(/[\\"]/g, (ch) => `\\${ch}`);
}
