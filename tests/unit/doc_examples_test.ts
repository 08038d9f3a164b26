/**
 * The public documentation's examples: every `@example` of a symbol the
 * entry points export (and of each entry point's module doc) has a title, and
 * every one of them type-checks (`deno check --doc-only`), so an example can
 * not drift from the API it shows. The entry points are `deno.json`'s exports.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const deno = path.join(repo, "node_modules/.bin/deno");
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

interface DocTag {
  kind: string;
  doc?: string;
}
interface DocNode {
  name?: string;
  location?: { filename: string; line: number };
  jsDoc?: { tags?: DocTag[] };
  def?: Record<string, unknown>;
  declarations?: DocNode[];
}
interface DocJson {
  nodes: Record<string, { module_doc?: { tags?: DocTag[] }; symbols?: DocNode[] }>;
}

function denoRun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      deno,
      args,
      { cwd: repo, env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 64 << 20, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Every public example: where it is and its text; and every file that holds a public symbol. */
async function publicExamples(): Promise<{ examples: string[][]; files: Set<string> }> {
  const config = JSON.parse(fs.readFileSync(path.join(repo, "deno.json"), "utf8"));
  const entries = Object.values(config.exports as Record<string, string>);
  const out = await denoRun(["doc", "--json", ...entries]);
  assert.equal(out.code, 0, out.stderr);
  const doc = JSON.parse(out.stdout) as DocJson;
  const prefix = `file://${repo}/`;
  const examples: string[][] = [];
  const files = new Set<string>();
  const collect = (where: string, tags: DocTag[] | undefined): void => {
    for (const tag of tags ?? []) {
      if (tag.kind === "example") examples.push([where, tag.doc ?? ""]);
    }
  };
  const visit = (owner: string, node: DocNode): void => {
    for (const decl of node.declarations ?? [node]) {
      const file = decl.location?.filename.replace(prefix, "") ?? "";
      if (file.startsWith("src/") || file === "mod.ts") files.add(file);
      const name = owner ? `${owner}.${node.name}` : node.name ?? "";
      collect(`${file}:${(decl.location?.line ?? 0) + 1} ${name}`, decl.jsDoc?.tags);
      for (const key of ["methods", "properties", "constructors"]) {
        const members = decl.def?.[key];
        if (Array.isArray(members)) {
          for (const m of members as DocNode[]) if (m !== node) visit(name, m);
        }
      }
    }
  };
  for (const [url, node] of Object.entries(doc.nodes)) {
    collect(`${url.replace(prefix, "")} (module)`, node.module_doc?.tags);
    for (const symbol of node.symbols ?? []) visit("", symbol);
  }
  return { examples, files };
}

// Bun drops a skipped describe's tests from its report: each test carries the skip.
const skipHere = isBun ? "deno doc and deno check: run from deno test" : false;

describe("public @examples", () => {
  it(
    "every public @example has a title (`@example Title`, then the code)",
    { skip: skipHere },
    async () => {
      const { examples } = await publicExamples();
      assert.ok(examples.length > 20, `only ${examples.length} public examples found`);
      const untitled = examples.filter(([, text]) => text.trimStart().startsWith("```"));
      assert.deepEqual(untitled.map(([where]) => where), []);
    },
  );

  it("every public @example type-checks (deno check --doc-only)", { skip: skipHere }, async () => {
    const { files } = await publicExamples();
    const out = await denoRun(["check", "--doc-only", ...[...files].sort()]);
    assert.equal(out.code, 0, `${out.stderr}\n${out.stdout}`.slice(-6000));
  });
});
