/**
 * The import directions, guarded so the layering cannot rot quietly. Every
 * import in `src/` and `mod.ts` is read with a small TypeScript scanner
 * (`tests/support/imports.ts`), static and dynamic alike:
 *
 * - `src/core/` imports nothing outside `src/core/`;
 * - the core layer (`src/` minus `src/drivers/` and `src/testing/`) imports no
 *   `npm:`, `jsr:`, `node:` or bare specifier: web-standard APIs only;
 * - an adapter (`src/drivers/<adapter>/`) imports only `src/driver.ts`,
 *   `src/drivers/shared/`, `src/errors.ts`, its own folder, and the packages
 *   of its own client (listed below);
 * - `src/otel/` (the `./otel` entry point) imports only `@opentelemetry/api`
 *   and the pool's own modules (no driver, no testing kit);
 * - `mod.ts` never reaches `src/testing/` nor `src/otel/`, not even indirectly.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { importsOf } from "../support/imports.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/**
 * What each adapter's client needs beyond the pool: postgres.js runs over the
 * sockets the adapter opens itself (`node:net`, `node:tls`); Bun.SQL is a Bun
 * global; deno-postgres's `Client` class is passed in by the user, and its
 * adapter returns `bytea` as a `Buffer` (`node:buffer`, built into Deno) like
 * the other adapters.
 */
const ADAPTER_PACKAGES: Record<string, readonly string[]> = {
  postgresjs: ["postgres", "node:net", "node:tls"],
  node_postgres: ["pg"],
  bun_sql: [],
  deno_postgres: ["node:buffer"],
};

// ---------------------------------------------------------------------------
// The repository's imports
// ---------------------------------------------------------------------------

interface Edge {
  /** The importing file, repo-relative (`src/pool.ts`). */
  from: string;
  /** The specifier as written; `import(<expression>)` for a computed one. */
  specifier: string;
  /** For a relative specifier, the file it names, repo-relative. */
  target: string | undefined;
  dynamic: boolean;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(repo, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|tsx|js|mjs)$/.test(entry.name)) out.push(rel);
  }
  return out;
}

function edgesOf(file: string): Edge[] {
  const src = fs.readFileSync(path.join(repo, file), "utf8");
  return importsOf(src).map(({ specifier, dynamic }) => {
    const relative = specifier !== undefined && /^\.\.?\//.test(specifier);
    const target = relative
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier!))
      : undefined;
    return { from: file, specifier: specifier ?? "import(<expression>)", target, dynamic };
  });
}

const FILES = ["mod.ts", ...sourceFiles("src")];
const EDGES = FILES.flatMap(edgesOf);

const under = (file: string | undefined, dir: string): boolean =>
  file !== undefined && file.startsWith(`${dir}/`);
const show = (e: Edge): string => `${e.from} → ${e.specifier}${e.dynamic ? " (dynamic)" : ""}`;

// ---------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------

describe("layering: import directions", () => {
  it("the import scanner skips comments, strings, templates and regular expressions", () => {
    const sample = [
      `import a from "./a.ts";`,
      `import type { B } from './b.ts' with { type: "json" };`,
      `import "./side.ts";`,
      `export { c } from "./c.ts";`,
      `export type * as d from "./d.ts";`,
      `export const e = 1; export function f() { return 2 / 1; }`,
      `// import x from "./commented.ts";`,
      `/* export * from "./block.ts"; */`,
      `const s = 'import y from "./string.ts"';`,
      'const t = `import("./template.ts") ${await import("./in_template.ts")} end`;',
      `const r = /["'\`]import("x")/; const half = 4 / 2;`,
      `type N = import("node:net").Socket;`,
      `const m = await import(name);`,
      `obj.import("./method.ts");`,
    ].join("\n");
    assert.deepEqual(importsOf(sample).map((f) => f.specifier), [
      "./a.ts",
      "./b.ts",
      "./side.ts",
      "./c.ts",
      "./d.ts",
      "./in_template.ts",
      "node:net",
      undefined,
    ]);
  });

  it("the scanner finds the imports of src/ (mod.ts reaches the pool, adapters reach the contract)", () => {
    assert.ok(FILES.length > 20, `only ${FILES.length} files found`);
    const targets = new Set(EDGES.map((e) => `${e.from} → ${e.target ?? e.specifier}`));
    assert.ok(targets.has("mod.ts → src/pool.ts"), "mod.ts imports src/pool.ts");
    for (const adapter of Object.keys(ADAPTER_PACKAGES)) {
      assert.ok(
        EDGES.some((e) => under(e.from, `src/drivers/${adapter}`) && e.target === "src/driver.ts"),
        `src/drivers/${adapter}/ imports the driver contract`,
      );
    }
  });

  it("src/core/ imports nothing outside src/core/", () => {
    const bad = EDGES.filter((e) => under(e.from, "src/core") && !under(e.target, "src/core"));
    assert.deepEqual(bad.map(show), []);
  });

  it("the core layer (src/ minus drivers/, testing/ and otel/) imports no npm:, jsr:, node: or bare specifier", () => {
    const bad = EDGES.filter((e) =>
      (e.from === "mod.ts" ||
        (under(e.from, "src") && !under(e.from, "src/drivers") && !under(e.from, "src/testing") &&
          !under(e.from, "src/otel"))) &&
      e.target === undefined
    );
    assert.deepEqual(bad.map(show), []);
  });

  it("a computed import() appears only in src/testing/", () => {
    const bad = EDGES.filter((e) => e.specifier === "import(<expression>)");
    assert.deepEqual(bad.filter((e) => !under(e.from, "src/testing")).map(show), []);
  });

  for (const [adapter, packages] of Object.entries(ADAPTER_PACKAGES)) {
    it(
      `src/drivers/${adapter}/ imports only the driver contract, drivers/shared/, errors.ts, itself and ${
        packages.length ? packages.join(", ") : "no package"
      }`,
      () => {
        const own = `src/drivers/${adapter}`;
        const bad = EDGES.filter((e) => {
          if (!under(e.from, own)) return false;
          if (e.target === undefined) return !packages.includes(e.specifier);
          return !(e.target === "src/driver.ts" || e.target === "src/errors.ts" ||
            under(e.target, "src/drivers/shared") || under(e.target, own));
        });
        assert.deepEqual(bad.map(show), []);
      },
    );
  }

  it("src/drivers/shared/ imports only the driver contract, errors.ts and itself", () => {
    const bad = EDGES.filter((e) =>
      under(e.from, "src/drivers/shared") &&
      !(e.target === "src/driver.ts" || e.target === "src/errors.ts" ||
        under(e.target, "src/drivers/shared"))
    );
    assert.deepEqual(bad.map(show), []);
  });

  it("src/otel/ imports only @opentelemetry/api and the pool's modules (no driver, no testing kit)", () => {
    const bad = EDGES.filter((e) =>
      under(e.from, "src/otel") &&
      (e.target === undefined
        ? e.specifier !== "@opentelemetry/api"
        : under(e.target, "src/drivers") || under(e.target, "src/testing"))
    );
    assert.deepEqual(bad.map(show), []);
    assert.ok(
      EDGES.some((e) => under(e.from, "src/otel") && e.specifier === "@opentelemetry/api"),
      "src/otel/ is scanned",
    );
  });

  it("mod.ts never reaches src/testing/ nor src/otel/, directly or through other modules", () => {
    const byFile = new Map<string, Edge[]>();
    for (const e of EDGES) byFile.set(e.from, [...(byFile.get(e.from) ?? []), e]);
    const seen = new Set<string>(["mod.ts"]);
    const queue = ["mod.ts"];
    const bad: string[] = [];
    while (queue.length > 0) {
      const file = queue.shift()!;
      for (const e of byFile.get(file) ?? []) {
        if (e.target === undefined || seen.has(e.target)) continue;
        if (under(e.target, "src/testing") || under(e.target, "src/otel")) bad.push(show(e));
        seen.add(e.target);
        queue.push(e.target);
      }
    }
    assert.deepEqual(bad, []);
  });
});

describe("layout: what a reader meets in the tree", () => {
  const allSrc = sourceFiles("src");

  it("no file in src/ is longer than 250 lines (the error catalogue src/errors.ts aside)", () => {
    const long = allSrc
      .filter((f) => f !== "src/errors.ts")
      .map((f) => ({
        f,
        lines: fs.readFileSync(path.join(repo, f), "utf8").split("\n").length - 1,
      }))
      .filter(({ lines }) => lines > 250)
      .map(({ f, lines }) => `${f}: ${lines} lines`);
    assert.deepEqual(long, []);
  });

  it("no file in src/ shares its name with a folder beside it", () => {
    const clashes = allSrc.filter((f) => {
      const stem = f.replace(/\.(ts|tsx|js|mjs)$/, "");
      return fs.existsSync(path.join(repo, stem)) &&
        fs.statSync(path.join(repo, stem)).isDirectory();
    });
    assert.deepEqual(clashes, []);
  });

  it("no test file skips a whole describe (Bun leaves such tests out of its report; skip each test)", () => {
    const files = ["tests/unit", "tests/integration", "tests/support", "examples"]
      .flatMap((d) => sourceFiles(d))
      .filter((f) => /_test\.ts$|\.test\.ts$/.test(f));
    assert.ok(files.length > 50, `only ${files.length} test files found`);
    const bad = files.filter((f) =>
      /(^|\n)\s*describe\(\s*("[^"]*"|'[^']*'|`[^`]*`)\s*,\s*\{[^}]*\bskip\s*:/.test(
        fs.readFileSync(path.join(repo, f), "utf8"),
      )
    );
    assert.deepEqual(bad, []);
  });
});
