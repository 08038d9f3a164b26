/**
 * fast-check generators that disguise SQL the way a user (or an attacker)
 * might: statements given as parts, keywords in random case, and between any
 * two parts random whitespace and comments — line comments ending in \n, \r\n
 * or \r, block comments holding `;` or SQL, nested comments.
 */
import fc from "fast-check";

/** A statement as parts: a keyword (`k`, random case) or verbatim text (`v`). */
export type Part = { k: string } | { v: string };

/** Shorthand: words in upper case are keywords, anything else is verbatim. */
export function parts(text: string): Part[] {
  return text.split(" ").map((p) => (/^[A-Z_]+$/.test(p) ? { k: p } : { v: p }));
}

/** What may stand between two parts: never nothing. */
export const separator: fc.Arbitrary<string> = fc.array(
  fc.constantFrom(
    " ",
    "\t",
    "\n",
    "\r\n",
    "  ",
    "/* ; */",
    "/* BEGIN; SET x = 1; */",
    "/* outer /* nested; COMMIT */ still; */",
    "/**/",
    "-- ;\n",
    "-- COMMIT;\r\n",
    "-- SET x = 1\r",
    "--\n",
  ),
  { minLength: 1, maxLength: 3 },
).map((s) => s.join(""));

function mixCase(word: string, bits: number): string {
  let out = "";
  for (let i = 0; i < word.length; i++) {
    out += (bits >> (i % 30)) & 1 ? word[i].toUpperCase() : word[i].toLowerCase();
  }
  return out;
}

/**
 * A generator of one disguised text for the statement.
 *
 * @param stmt The statement's parts.
 * @returns Texts: optional leading noise, the parts joined by separators, an optional `;`.
 */
export function disguised(stmt: readonly Part[]): fc.Arbitrary<string> {
  return fc.tuple(
    fc.array(separator, { minLength: stmt.length + 1, maxLength: stmt.length + 1 }),
    fc.array(fc.nat(), { minLength: stmt.length, maxLength: stmt.length }),
    fc.boolean(),
    fc.boolean(),
  ).map(([seps, cases, lead, semi]) => {
    let text = lead ? seps[0] : "";
    stmt.forEach((part, i) => {
      if (i > 0) text += seps[i];
      text += "k" in part ? mixCase(part.k, cases[i]) : part.v;
    });
    return semi ? `${text}${seps[stmt.length]};` : text;
  });
}
