/**
 * A script that never calls `end()`: whether it exits once its sessions are
 * idle, per runtime (the ground `allowExitOnIdle` will change). Spawns Deno
 * and Bun on tests/integration/fixtures/exit_on_idle.ts against a test server.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const fixture = `${repo}/tests/integration/fixtures/exit_on_idle.ts`;
const denoArgv = [`${repo}/node_modules/.bin/deno`, "run", "-A", fixture];
const bunArgv = [`${repo}/node_modules/.bin/bun`, fixture];

/** Runs the fixture; resolves with its exit code, or "running" after `waitMs` (then kills it). */
function runFixture(
  argv: readonly string[],
  waitMs: number,
): Promise<{ code: number | "running"; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => out += d);
    child.stderr.on("data", (d) => out += d);
    child.on("error", reject);
    let queriedAt: number | undefined;
    const check = setInterval(() => {
      // The wait counts from the query's answer: starting the runtime may take long.
      if (queriedAt === undefined && out.includes("queried")) queriedAt = Date.now();
      if (queriedAt !== undefined && Date.now() - queriedAt >= waitMs) {
        clearInterval(check);
        child.kill("SIGKILL");
        resolve({ code: "running", out });
      }
    }, 50);
    child.on("exit", (code) => {
      clearInterval(check);
      resolve({ code: code ?? -1, out });
    });
  });
}

// What a script that never calls end() does today, per runtime and default driver.
describe("a script without end()", () => {
  it("deno (postgres.js): its idle sessions' sockets keep it running after 2 s", async () => {
    const r = await runFixture(denoArgv, 2000);
    assert.ok(r.out.includes("queried"), r.out);
    assert.equal(r.code, "running", r.out);
  });

  it("bun (Bun.SQL): it exits with code 0 once the query answered", async () => {
    const r = await runFixture(bunArgv, 5000);
    assert.ok(r.out.includes("queried"), r.out);
    assert.equal(r.code, 0, r.out);
  });

  for (const [runtime, argv] of [["deno", denoArgv], ["bun", bunArgv]] as const) {
    it(`${runtime} (node-postgres): its idle sessions' sockets keep it running after 2 s`, async () => {
      const r = await runFixture([...argv, "node-postgres"], 2000);
      assert.ok(r.out.includes("queried"), r.out);
      assert.equal(r.code, "running", r.out);
    });
  }
});

describe("allowExitOnIdle", () => {
  it("deno (postgres.js): the script exits with code 0 once its sessions are idle", async () => {
    const r = await runFixture([...denoArgv, "exit"], 5000);
    assert.ok(r.out.includes("queried"), r.out);
    assert.equal(r.code, 0, r.out);
  });

  it("bun (Bun.SQL): the script exits with code 0", async () => {
    const r = await runFixture([...bunArgv, "exit"], 5000);
    assert.ok(r.out.includes("queried"), r.out);
    assert.equal(r.code, 0, r.out);
  });

  for (const [runtime, argv] of [["deno", denoArgv], ["bun", bunArgv]] as const) {
    it(`${runtime} (node-postgres): the script exits with code 0 once its sessions are idle`, async () => {
      const r = await runFixture([...argv, "node-postgres", "exit"], 5000);
      assert.ok(r.out.includes("queried"), r.out);
      assert.equal(r.code, 0, r.out);
    });
  }
});
