/**
 * Installed the way JSR serves it: no `package.json` and no `node_modules`
 * travel with the package, so every npm package the published code loads must
 * be declared in `deno.json` `imports` with a version range. The test copies
 * exactly the files `deno publish --dry-run` lists into a temporary folder,
 * rewrites each import through `deno.json` `imports` as publishing does
 * (JSR serves the rewritten sources; a bare specifier that is not declared
 * stays bare and fails to load), and from a consumer script outside the
 * repository imports that folder's `mod.ts` and runs queries against a test
 * server: the default driver (postgres.js) and node-postgres, which Deno
 * fetches from the npm registry itself.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { importsOf } from "../support/imports.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const deno = path.join(repo, "node_modules/.bin/deno");
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  // The user's environment (proxies, certificates, DENO_DIR), without the test's servers.
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(PG|DATABASE_URL$)/.test(k)) base[k] = v;
  }
  return new Promise((resolve) => {
    execFile(
      deno,
      args,
      { cwd, env: { ...base, ...env }, timeout: 90_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The files `deno publish --dry-run` lists, repo-relative. */
async function publishedFiles(): Promise<string[]> {
  const out = await run(["publish", "--dry-run", "--allow-dirty", "--no-check"], repo, {
    NO_COLOR: "1",
  });
  assert.equal(out.code, 0, `deno publish --dry-run failed:\n${out.stderr}\n${out.stdout}`);
  const prefix = `file://${repo}/`;
  const files = `${out.stdout}\n${out.stderr}`.split("\n")
    .map((line) => line.trim().replace(/ \([\d.]+\s*[KMG]?B\)$/, ""))
    .filter((line) => line.startsWith(prefix))
    .map((line) => decodeURIComponent(line.slice(prefix.length)));
  assert.ok(files.includes("mod.ts"), `mod.ts is not published: ${files.join(", ")}`);
  return files;
}

/** A specifier as publishing rewrites it: through `imports` (exact, then the longest prefix ending in "/"). */
function rewrite(specifier: string, imports: Record<string, string>): string {
  if (Object.hasOwn(imports, specifier)) return imports[specifier];
  let best = "";
  for (const key of Object.keys(imports)) {
    if (key.endsWith("/") && specifier.startsWith(key) && key.length > best.length) best = key;
  }
  return best ? imports[best] + specifier.slice(best.length) : specifier;
}

/** Copies `files` from the repo to `dir`, rewriting the imports of TypeScript files. */
function copyPublished(files: string[], dir: string, imports: Record<string, string>): void {
  for (const file of files) {
    let text = fs.readFileSync(path.join(repo, file), "utf8");
    if (/\.(ts|tsx|js|mjs)$/.test(file)) {
      // Back to front, so the positions of earlier imports stay valid.
      for (const found of importsOf(text).reverse()) {
        if (found.specifier === undefined) continue;
        const to = rewrite(found.specifier, imports);
        if (to !== found.specifier) {
          text = `${text.slice(0, found.start)}${JSON.stringify(to)}${text.slice(found.end)}`;
        }
      }
    }
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
}

const CONSUMER = `
import { createPool } from "../package/mod.ts";
import { nodePostgres } from "../package/src/drivers/node_postgres/mod.ts";

const url = Deno.env.get("DATABASE_URL");
const out = {};
for (const [name, driver] of [["default", undefined], ["node-postgres", nodePostgres()]]) {
  const pool = createPool({ db: url, groups: { default: { connection_count: 1 } }, driver });
  try {
    const { rows } = await pool.withHandler("default", (db) => db.query("SELECT $1::int + 1 AS two", [1]));
    out[name] = rows[0].two;
  } catch (err) {
    out[name] = String(err) + (err.cause ? " / cause: " + String(err.cause) : "");
  } finally {
    await pool.end();
  }
}
console.log(JSON.stringify(out));
`;

// Bun drops a skipped describe's tests from its report: each test carries the skip.
const skipHere = isBun ? "JSR serves Deno: run from deno test" : false;

describe("published package", () => {
  let server: TestServer;
  let root: string;

  before(async () => {
    if (skipHere) return;
    [server] = await sharedServers();
    root = fs.mkdtempSync(path.join(os.tmpdir(), "pgdbpool-published-"));
  });

  after(() => {
    if (skipHere) return;
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("deno.json declares every npm package the published code loads, with a version range", {
    skip: skipHere,
  }, async () => {
    const config = JSON.parse(fs.readFileSync(path.join(repo, "deno.json"), "utf8"));
    const imports: Record<string, string> = config.imports ?? {};
    const bare: string[] = [];
    for (const file of await publishedFiles()) {
      if (!/\.(ts|tsx|js|mjs)$/.test(file)) continue;
      for (const { specifier } of importsOf(fs.readFileSync(path.join(repo, file), "utf8"))) {
        if (specifier === undefined || /^(\.\.?\/|[a-z][a-z0-9+.-]*:)/.test(specifier)) continue;
        const to = rewrite(specifier, imports);
        if (!/^(npm|jsr):.+@[\^~]?\d/.test(to)) bare.push(`${file}: ${specifier} → ${to}`);
      }
    }
    assert.deepEqual(bare, [], "bare specifiers without an npm:/jsr: target and version range");
  });

  it(
    "a consumer outside the repository imports the published mod.ts and queries, on both npm drivers",
    { skip: skipHere },
    async () => {
      const config = JSON.parse(fs.readFileSync(path.join(repo, "deno.json"), "utf8"));
      const pkg = path.join(root, "package");
      copyPublished(await publishedFiles(), pkg, config.imports ?? {});
      assert.ok(!fs.existsSync(path.join(pkg, "package.json")));
      assert.ok(!fs.existsSync(path.join(pkg, "node_modules")));
      const consumer = path.join(root, "consumer");
      fs.mkdirSync(consumer);
      fs.writeFileSync(path.join(consumer, "main.js"), CONSUMER);
      const out = await run(
        [
          "run",
          "--quiet",
          "--no-config",
          "--no-lock",
          "--allow-net",
          "--allow-env",
          "--allow-read",
          "--allow-sys",
          "main.js",
        ],
        consumer,
        { DATABASE_URL: server.url },
      );
      const line = out.stdout.trim().split("\n").pop() ?? "";
      let result: unknown;
      try {
        result = JSON.parse(line);
      } catch {
        assert.fail(`the consumer failed (exit ${out.code}):\n${out.stderr}\n${out.stdout}`);
      }
      assert.deepEqual(result, { default: 2, "node-postgres": 2 });
    },
  );
});
