/**
 * The `groups.<g>.reset` key: the keywords `"auto"` and `"none"`, matched
 * exactly, or the SQL to run on release. A lone word that is no SQL statement
 * (`"Auto"`, `"none "`, `"autp"`, `"off"`) is a mistyped keyword: taken as SQL it
 * would fail on every release and cost a reconnect each time, silently.
 *
 * @module
 */
import { fail, type Field } from "./fields.ts";
import { refuseNul } from "./validators.ts";

const KEYWORDS = ["auto", "none"] as const;

const EXPECTED = '"auto", "none" or the SQL to run on release';

// The statements PostgreSQL runs as one bare word: these lone words are SQL.
const ONE_WORD_STATEMENTS: ReadonlySet<string> = new Set([
  "abort",
  "analyse",
  "analyze",
  "begin",
  "checkpoint",
  "cluster",
  "commit",
  "end",
  "rollback",
  "select",
  "vacuum",
]);

/**
 * Checks a group's `reset`.
 *
 * @param f The field to check.
 * @returns `"auto"`, `"none"` or the SQL, unchanged.
 * @throws {ConfigError} When the value is not a non-empty string, or is a lone
 *   word that is neither keyword (exactly) nor a one-word SQL statement; the
 *   message suggests the keyword it is close to.
 */
export function resetField(f: Field): string {
  const value = f.value;
  if (typeof value !== "string" || value.trim() === "") fail(f, EXPECTED);
  refuseNul(f, value); // It would cut the text every release sends.
  if ((KEYWORDS as readonly string[]).includes(value)) return value;
  const word = loneWord(value);
  if (word === undefined || ONE_WORD_STATEMENTS.has(word.toLowerCase())) return value;
  const near = KEYWORDS.find((k) => editDistance(word.toLowerCase(), k) <= 2);
  fail(f, `${EXPECTED}${near ? ` (did you mean "${near}"?)` : ""}`);
}

/** The text as one word (letters, digits, `_`, `-`; spaces and trailing `;` aside), else undefined. */
function loneWord(text: string): string | undefined {
  let end = text.length;
  while (end > 0 && (text[end - 1] === ";" || isSpace(text[end - 1]))) end--;
  let start = 0;
  while (start < end && isSpace(text[start])) start++;
  const word = text.slice(start, end);
  for (const ch of word) {
    const letter = ch.toLowerCase() !== ch.toUpperCase(); // any script's letters, not only ASCII
    if (!letter && !(ch >= "0" && ch <= "9") && ch !== "_" && ch !== "-") return undefined;
  }
  return word;
}

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ch === "\f" || ch === "\v";
}

/** Levenshtein distance, for the two short keywords only. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}
