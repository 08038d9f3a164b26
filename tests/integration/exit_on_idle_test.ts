/**
 * A script that never calls `end()`: whether it exits once its sessions are
 * idle, per runtime (the ground `allowExitOnIdle` will change). Spawns Deno
 * and Bun on tests/integration/fixtures/exit_on_idle.ts against a test server.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { caseBatch } from "../support/case_batch.ts";

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

/** A case: the fixture run with `argv` must still run `waitMs` after its query, or exit with 0. */
interface ExitCase {
  title: string;
  argv: readonly string[];
  waitMs: number;
  expect: "running" | 0;
}

const keptRunning = (title: string, argv: readonly string[]): ExitCase => ({
  title,
  argv,
  waitMs: 2000,
  expect: "running",
});
const exited = (title: string, argv: readonly string[]): ExitCase => ({
  title,
  argv,
  waitMs: 5000,
  expect: 0,
});

// What a script that never calls end() does today, per runtime and default driver.
const withoutEnd: ExitCase[] = [
  keptRunning("deno (postgres.js): its idle sessions' sockets keep it running after 2 s", denoArgv),
  exited("bun (Bun.SQL): it exits with code 0 once the query answered", bunArgv),
  ...([["deno", denoArgv], ["bun", bunArgv]] as const).map(([runtime, argv]) =>
    keptRunning(
      `${runtime} (node-postgres): its idle sessions' sockets keep it running after 2 s`,
      [...argv, "node-postgres"],
    )
  ),
];
const exitOnIdle: ExitCase[] = [
  exited(
    "deno (postgres.js): the script exits with code 0 once its sessions are idle",
    [...denoArgv, "exit"],
  ),
  exited("bun (Bun.SQL): the script exits with code 0", [...bunArgv, "exit"]),
  ...([["deno", denoArgv], ["bun", bunArgv]] as const).map(([runtime, argv]) =>
    exited(
      `${runtime} (node-postgres): the script exits with code 0 once its sessions are idle`,
      [...argv, "node-postgres", "exit"],
    )
  ),
];

// Each case is a child process of its own: they run together, four at a time, those that wait
// 2 s first. Each test checks its own case, and that nothing escaped while any ran; the first
// waits for all.
const batch = caseBatch(
  [...withoutEnd, ...exitOnIdle]
    .toSorted((a, b) => a.waitMs - b.waitMs)
    .map((c) =>
      [c.title, async () => {
        const r = await runFixture(c.argv, c.waitMs);
        assert.ok(r.out.includes("queried"), r.out);
        assert.equal(r.code, c.expect, r.out);
      }] as const
    ),
  100,
  4,
);

describe("a script without end()", () => {
  after(() => batch.stop());
  for (const c of withoutEnd) it(c.title, () => batch.check(c.title));
});

describe("allowExitOnIdle", () => {
  after(() => batch.stop());
  for (const c of exitOnIdle) it(c.title, () => batch.check(c.title));
});
