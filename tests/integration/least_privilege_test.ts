/**
 * Deno with least privilege: `deno run --allow-net --allow-env=DATABASE_URL`
 * (or only the `PG*` variables a user sets) is enough. The environment is read
 * only to build the default pool, and a variable the permissions deny reads as
 * unset, in the pool and in the drivers (postgres.js and node-postgres read
 * libpq's variables on their own). Each case spawns a Deno process on a small
 * script (fixtures/least_privilege.ts) against a test server.
 *
 * @module
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sharedServers, type TestServer } from "../support/servers.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const deno = `${repo}node_modules/.bin/deno`;
const script = fileURLToPath(new URL("./fixtures/least_privilege.ts", import.meta.url));
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

interface Outcome {
  ok?: { app: string; one: number };
  error?: string;
  message?: string;
}

/** Runs the script with exactly `env` (plus PATH and HOME) and `--allow-env=<allowEnv>`. */
function run(
  allowEnv: string[],
  env: Record<string, string>,
  driver = "default",
): Promise<Outcome> {
  const flags = ["run", "--quiet", "--no-prompt", "--allow-net", "--allow-read"];
  if (allowEnv.length) flags.push(`--allow-env=${allowEnv.join(",")}`);
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? "", ...env };
  for (const k of ["HOME", "DENO_DIR", "TMPDIR"]) if (process.env[k]) childEnv[k] = process.env[k]!;
  return new Promise((resolve, reject) => {
    execFile(
      deno,
      [...flags, script, driver],
      { cwd: repo, env: childEnv, timeout: 60_000 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(line) as Outcome);
        } catch {
          reject(new Error(`no JSON from the script (${err?.message}): ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

// Bun drops a skipped describe's tests from its report: each test carries the skip.
const skipHere = isBun ? "Deno permissions: run from deno test" : false;

describe("Deno with least privilege", () => {
  let server: TestServer;
  before(async () => {
    if (skipHere) return;
    [server] = await sharedServers();
  });

  it("withHandler() on the default pool works with --allow-env=DATABASE_URL only", {
    skip: skipHere,
  }, async () => {
    const out = await run(["DATABASE_URL"], { DATABASE_URL: server.url });
    assert.deepEqual(out, { ok: { app: "pgdbpool", one: 1 } });
  });

  it("node-postgres works with --allow-env=DATABASE_URL only", { skip: skipHere }, async () => {
    const out = await run(["DATABASE_URL"], { DATABASE_URL: server.url }, "node-postgres");
    assert.deepEqual(out, { ok: { app: "pgdbpool", one: 1 } });
  });

  it(
    "the PG* variables a user allows are read, the others count as unset",
    { skip: skipHere },
    async () => {
      const vars = {
        PGHOST: server.host,
        PGPORT: String(server.port),
        PGUSER: server.user,
        PGPASSWORD: server.password,
        PGDATABASE: server.database,
        PGAPPNAME: "least-privilege",
      };
      const out = await run(Object.keys(vars), vars);
      assert.deepEqual(out, { ok: { app: "least-privilege", one: 1 } });
    },
  );

  it(
    "without any env permission, the default pool says what to configure",
    { skip: skipHere },
    async () => {
      const out = await run([], { DATABASE_URL: server.url });
      assert.equal(out.error, "ConfigError", JSON.stringify(out));
      assert.match(out.message ?? "", /DATABASE_URL/);
    },
  );
});
