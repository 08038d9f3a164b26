/**
 * `examples/pool_per_test_file.test.ts` as users run it: plain `deno test -A`
 * (its ops, resources and exit sanitizers on) under `deno test`, plain
 * `bun test` under `bun test`, against the first test server. Its tests pass
 * only if a pool running across tests trips no sanitizer and a pool ended
 * inside a test leaves no timer, op or session behind.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sharedServers } from "../support/servers.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const onBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const example = "examples/pool_per_test_file.test.ts";
const argv = onBun
  ? [`${repo}/node_modules/.bin/bun`, "test", example]
  : [`${repo}/node_modules/.bin/deno`, "test", "-A", example];
const RUN_MS = 120_000;

/** Runs `argv` with `env` added; its exit code (or why none) and its output. */
function run(env: Record<string, string>): Promise<{ code: number | string; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: repo,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => out += d);
    child.stderr.on("data", (d) => out += d);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ code: `still running after ${RUN_MS} ms`, out });
    }, RUN_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: `spawn failed: ${err.message}`, out });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? `killed by ${signal}`, out });
    });
  });
}

describe(example, () => {
  it(`passes under plain ${onBun ? "bun test" : "deno test (sanitizers on)"}`, async () => {
    const [server] = await sharedServers();
    const { code, out } = await run({ DATABASE_URL: server.url });
    assert.equal(code, 0, out);
    // Every test of the file ran and passed (a run that registered none would exit 0 too).
    assert.match(out, onBun ? /\b5 pass\b/ : /ok \| 5 passed \| 0 failed/, out);
  });
});
