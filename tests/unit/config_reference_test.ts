/**
 * docs/configuration.md against the config code: every key the code accepts
 * (top level, `db`, URL parameters, `groups.<name>`) is in the first column of
 * its section's table, and every key listed there is accepted. The accepted
 * keys are read from the code itself: an unknown key's `ConfigError` lists
 * every key allowed where it stands (`rejectUnknownKeys` over the key tables
 * of `src/config/`), so a key added to the code without docs fails here.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { normalizeConfig } from "../../src/config/normalize.ts";

const DOC = fileURLToPath(new URL("../../docs/configuration.md", import.meta.url));
const group = { g: { connection_count: 1 } };

/** The keys the code allows where `input` has its unknown key `bogus`. */
function accepted(input: unknown): string[] {
  try {
    normalizeConfig(input);
  } catch (err) {
    const m = /expected one of (.+?)(?: \(in "[^"]*"\))?$/.exec((err as Error).message);
    assert.ok(m, `no key list in: ${(err as Error).message}`);
    return m[1].split(", ").map((k) => k.trim());
  }
  throw new Error("an unknown key was accepted");
}

/** The backticked names in the first column of the table under the heading `title`. */
function documented(title: string): string[] {
  const text = fs.readFileSync(DOC, "utf8");
  const start = text.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/configuration.md has no section "## ${title}"`);
  const end = text.indexOf("\n## ", start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const keys: string[] = [];
  for (const line of section.split("\n")) {
    if (!line.startsWith("|") || /^\|\s*-/.test(line)) continue;
    const first = line.split("|")[1];
    if (/^\s*key\s*$/.test(first)) continue; // the header row
    for (const m of first.matchAll(/`([^`]+)`/g)) keys.push(m[1]);
  }
  return keys;
}

const SECTIONS: [string, string, unknown][] = [
  ["Top level", "top-level", { db: { host: "h" }, groups: group, bogus: 1 }],
  ["`db`", "endpoint", { db: { host: "h", bogus: 1 }, groups: group }],
  ["URL parameters", "URL", { db: "postgres://h/app?bogus=1", groups: group }],
  ["`groups.<name>`", "group", {
    db: { host: "h" },
    groups: { g: { connection_count: 1, bogus: 1 } },
  }],
];

describe("docs/configuration.md", () => {
  for (const [title, kind, input] of SECTIONS) {
    it(`documents every ${kind} key the config code accepts, under "## ${title}"`, () => {
      const keys = accepted(input);
      assert.ok(keys.length > 3, `too few ${kind} keys read: ${keys.join(", ")}`);
      const docs = new Set(documented(title));
      const missing = keys.filter((k) => !docs.has(k));
      assert.deepEqual(missing, [], `undocumented ${kind} keys: ${missing.join(", ")}`);
    });

    it(`lists no ${kind} key the config code refuses, under "## ${title}"`, () => {
      const keys = new Set(accepted(input));
      const stale = documented(title).filter((k) => !keys.has(k));
      assert.deepEqual(stale, [], `documented but not accepted: ${stale.join(", ")}`);
    });
  }
});
