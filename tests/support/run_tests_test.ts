/**
 * The test runner's summary (tests/support/run_tests.ts), run on small
 * generated test files: skipped tests are shown, and a run that ran no test
 * fails. Runs once, under Deno (the runner is a Deno program and runs both
 * runtimes itself).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const runner = path.join(repo, "tests/support/run_tests.ts");
const isBun = "Bun" in globalThis;
let dir: string;

/** Runs the runner on `files` (no servers: PGDBPOOL_TEST_URLS names a dummy). */
function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const deno = path.join(repo, "node_modules/.bin/deno");
    const child = spawn(deno, ["run", "-A", runner, ...args], {
      cwd: repo,
      env: {
        ...process.env,
        PGDBPOOL_TEST_URLS: "postgres://nobody@127.0.0.1:1/none",
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (b) => (output += b));
    child.stderr.on("data", (b) => (output += b));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `import { describe, it } from "node:test";\n${text}\n`);
  return file;
}

// Bun drops a skipped describe's tests from its report: each test carries the skip.
const skipHere = isBun && "the runner is a Deno program: checked once, under Deno";

describe("run_tests.ts", () => {
  before(() => {
    if (skipHere) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgdbpool-runner-"));
  });

  after(() => {
    if (skipHere) return;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("run_tests.ts lists skipped tests by name and counts them in the last line", {
    skip: skipHere,
    timeout: 120_000,
  }, async () => {
    const file = write(
      "skips_test.ts",
      `describe("fixture", () => {
        it("passes", () => {});
        it("is skipped here", { skip: "a reason" }, () => {});
      });`,
    );
    const { code, output } = await run([file]);
    assert.equal(code, 0, output);
    const lines = output.trimEnd().split("\n");
    assert.equal(lines.at(-1), "2 passed, 0 failed, 2 skipped", output);
    assert.match(output, /^deno: 1 passed, 0 failed, 1 skipped/m);
    assert.match(output, /^bun: 1 passed, 0 failed, 1 skipped/m);
    assert.match(output, /^\s*skipped \(deno\): fixture > is skipped here$/m);
    assert.match(output, /^\s*skipped \(bun\): fixture > is skipped here$/m);
  });

  it(
    "run_tests.ts exits non-zero when a run ran no test",
    { skip: skipHere, timeout: 120_000 },
    async () => {
      const file = write("empty_test.ts", `export const nothing = [describe, it].length;`);
      for (const only of ["--deno-only", "--bun-only"]) {
        const { code, output } = await run([only, file]);
        assert.notEqual(code, 0, output);
        assert.match(output, /ran no test/, output);
        assert.match(
          output.trimEnd().split("\n").at(-1) ?? "",
          /^0 passed, [1-9]\d* failed/,
          output,
        );
      }
    },
  );
});
