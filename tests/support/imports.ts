/**
 * Reads the imports of TypeScript source with a small scanner, not a regular
 * expression over raw text: comments, strings, template literals and
 * regular-expression literals are skipped as such. Used by the layering test
 * (which imports go where) and the published-package test (rewriting bare
 * specifiers as JSR does on publish).
 *
 * @module
 */

type Token =
  | { kind: "ident"; text: string }
  | { kind: "string"; text: string; start: number; end: number }
  | { kind: "punct"; text: string }
  | { kind: "other"; text: string };

/**
 * An import found in a source text: the specifier (`undefined` for
 * `import(expression)`), whether it is dynamic, and where its string literal
 * lies (quotes included), so that a caller can rewrite it.
 */
export interface FoundImport {
  specifier: string | undefined;
  dynamic: boolean;
  start: number;
  end: number;
}

// After these, a "/" starts a regular expression, not a division.
const REGEX_AFTER_WORDS = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "instanceof",
  "yield",
  "await",
]);

function isIdentStart(ch: string): boolean {
  return (ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") || ch === "_" || ch === "$" ||
    ch > "\u007f";
}

function isIdentPart(ch: string): boolean {
  return isIdentStart(ch) || (ch >= "0" && ch <= "9");
}

/** Splits TypeScript source into tokens, dropping comments and whitespace. */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  // One entry per open `${` of a template literal: the brace depth inside it.
  const templates: number[] = [];
  let i = 0;
  const regexAllowed = (): boolean => {
    const prev = tokens[tokens.length - 1];
    if (!prev) return true;
    if (prev.kind === "ident") return REGEX_AFTER_WORDS.has(prev.text);
    if (prev.kind === "string" || prev.kind === "other") return false;
    return !(prev.text === ")" || prev.text === "]" || prev.text === "}");
  };
  const readString = (quote: string): string => {
    let out = "";
    i++;
    while (i < src.length && src[i] !== quote) {
      if (src[i] === "\\") {
        out += src[i + 1] ?? "";
        i += 2;
      } else out += src[i++];
    }
    i++;
    return out;
  };
  // Reads template text up to the closing backtick or the next `${`.
  const readTemplate = (): void => {
    while (i < src.length) {
      if (src[i] === "\\") i += 2;
      else if (src[i] === "`") {
        i++;
        tokens.push({ kind: "other", text: "`template`" });
        return;
      } else if (src[i] === "$" && src[i + 1] === "{") {
        i += 2;
        templates.push(0);
        tokens.push({ kind: "punct", text: "(" }); // a `${` opens an expression
        return;
      } else i++;
    }
  };
  while (i < src.length) {
    const ch = src[i];
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") i++;
    else if (ch === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (ch === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (ch === "'" || ch === '"') {
      const start = i;
      const text = readString(ch);
      tokens.push({ kind: "string", text, start, end: i });
    } else if (ch === "`") {
      i++;
      readTemplate();
    } else if (ch === "/" && regexAllowed()) {
      let inClass = false;
      i++;
      while (i < src.length && (inClass || src[i] !== "/")) {
        if (src[i] === "\\") i++;
        else if (src[i] === "[") inClass = true;
        else if (src[i] === "]") inClass = false;
        i++;
      }
      i++;
      while (i < src.length && isIdentPart(src[i])) i++; // flags
      tokens.push({ kind: "other", text: "/regex/" });
    } else if (isIdentStart(ch)) {
      const start = i;
      while (i < src.length && isIdentPart(src[i])) i++;
      tokens.push({ kind: "ident", text: src.slice(start, i) });
    } else if (ch >= "0" && ch <= "9") {
      while (i < src.length && (isIdentPart(src[i]) || src[i] === ".")) i++;
      tokens.push({ kind: "other", text: "0" });
    } else if (templates.length > 0 && ch === "{") {
      templates[templates.length - 1]++;
      tokens.push({ kind: "punct", text: ch });
      i++;
    } else if (templates.length > 0 && ch === "}") {
      i++;
      if (templates[templates.length - 1]-- === 0) {
        templates.pop();
        tokens.push({ kind: "punct", text: ")" });
        readTemplate();
      } else tokens.push({ kind: "punct", text: ch });
    } else {
      tokens.push({ kind: "punct", text: ch });
      i++;
    }
  }
  return tokens;
}

/**
 * Every import of a TypeScript source text: `import ... "x"`, `export ... from
 * "x"`, `import("x")` (in code or in a type). Comments, strings, template
 * literals and regular-expression literals are skipped as such.
 *
 * @param src The source text.
 * @returns The imports, in source order.
 */
export function importsOf(src: string): FoundImport[] {
  const tokens = tokenize(src);
  const found: FoundImport[] = [];
  const at = (k: number): Token | undefined => tokens[k];
  const add = (token: Token | undefined, dynamic: boolean): void => {
    if (token?.kind === "string") {
      found.push({ specifier: token.text, dynamic, start: token.start, end: token.end });
    }
  };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind !== "ident" || at(k - 1)?.text === ".") continue;
    if (t.text === "import" && at(k + 1)?.text === "(") {
      const arg = at(k + 2);
      const literal = arg?.kind === "string" &&
        (at(k + 3)?.text === ")" || at(k + 3)?.text === ",");
      if (literal) add(arg, true);
      else found.push({ specifier: undefined, dynamic: true, start: -1, end: -1 });
    } else if (t.text === "import" && at(k + 1)?.text !== ".") {
      // A static import: its first string is the specifier (attributes come after it).
      let j = k + 1;
      while (j < tokens.length && tokens[j].kind !== "string" && tokens[j].text !== ";") j++;
      add(at(j), false);
    } else if (t.text === "export") {
      // A re-export: `export [type] { ... } from "x"` or `export [type] * [as y] from "x"`.
      let j = k + 1;
      if (at(j)?.text === "type") j++;
      if (at(j)?.text === "{") {
        while (j < tokens.length && tokens[j].text !== "}") j++;
        j++;
      } else if (at(j)?.text === "*") {
        j++;
        if (at(j)?.text === "as") j += 2;
      } else continue;
      if (at(j)?.text === "from") add(at(j + 1), false);
    }
  }
  return found;
}
