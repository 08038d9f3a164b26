/**
 * What importing `mod.ts` loads: its static module graph (as `deno info`
 * reports it: runtime imports only, type-only imports and dynamic `import()`
 * left out) holds no driver adapter, no listen code, no OpenTelemetry and no
 * testing kit. Those load on first use (the default driver on first connect,
 * the listen code on the first `pool.listen()`), so a cold start does not
 * pay for them (docs/performance.md, "Cold start").
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface ModuleInfo {
  specifier: string;
  dependencies?: Dependency[];
}

/** The repository files `entry` loads when imported, dynamic imports left out. */
function staticGraph(entry: string): string[] {
  const out = execFileSync(path.join(repo, "node_modules/.bin/deno"), ["info", "--json", entry], {
    cwd: repo,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const info = JSON.parse(out) as { roots: string[]; modules: ModuleInfo[] };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      // A type-only import has no `code` side: it loads nothing.
      if (d.code?.specifier && !d.isDynamic) stack.push(d.code.specifier);
    }
  }
  const prefix = `file://${repo}/`;
  return [...seen].map((s) => s.startsWith(prefix) ? s.slice(prefix.length) : s).sort();
}

describe("lazy loading: what importing mod.ts loads", () => {
  const graph = staticGraph("mod.ts");

  it("mod.ts loads no driver adapter, listen code, OpenTelemetry, testing kit or npm package", () => {
    const eager = graph.filter((f) =>
      /^src\/(drivers\/(?!shared\/lazy\.ts$)|listen\/|otel\/|testing\/)/.test(f) ||
      !f.startsWith("src/") && f !== "mod.ts"
    );
    assert.deepEqual(eager, []);
  });
});
