/**
 * The package as JSR's npm compatibility layer serves it to Bun and Node:
 * every TypeScript module transpiled one-to-one to a JavaScript module, its
 * relative `.ts` imports rewritten to `.js`, nothing bundled. Built locally
 * with `bun build --no-bundle` (no network) into `.tmp/bench/cold_js/`, under
 * the repository so that bare specifiers such as `postgres` still resolve to
 * its `node_modules`. `bench/cold_start.ts --subject=pgdbpool-js` imports
 * `mod.js` from there; `bench/run.ts --cold` builds it first. By hand:
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cold_js.ts
 * ```
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Where the JavaScript form is built: `mod.js` is its entry. */
export const COLD_JS_DIR = path.join(ROOT, ".tmp", "bench", "cold_js");

// A relative specifier ending in .ts, in a static or dynamic import or an export.
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g;

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return rel === path.join("src", "testing") ? [] : sources(rel);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [rel] : [];
  });
}

/**
 * Builds the JavaScript form of `mod.ts` and `src/` (the testing kit left
 * out: `mod.ts` never loads it).
 *
 * @returns The path of its `mod.js`.
 * @throws {Error} When `bun build` fails.
 */
export function buildColdJs(): string {
  fs.rmSync(COLD_JS_DIR, { recursive: true, force: true });
  const files = ["mod.ts", ...sources("src")];
  const bun = path.join(ROOT, "node_modules", ".bin", "bun");
  const r = spawnSync(
    bun,
    ["build", "--no-bundle", `--root=${ROOT}`, `--outdir=${COLD_JS_DIR}`, ...files],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`bun build --no-bundle failed: ${r.stderr || r.stdout}`);
  for (const file of files) {
    const out = path.join(COLD_JS_DIR, file.replace(/\.ts$/, ".js"));
    fs.writeFileSync(out, fs.readFileSync(out, "utf8").replace(TS_SPECIFIER, "$1$2$3.js$2"));
  }
  return path.join(COLD_JS_DIR, "mod.js");
}

if (import.meta.main) console.log(buildColdJs());
