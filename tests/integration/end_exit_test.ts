/**
 * `pool.end()` leaves nothing running: a script that ends its pool, in each
 * situation a pool can be in at that moment, exits by itself, with code 0 and
 * no unhandled rejection, and every call it had in flight settled with its
 * result or a typed error. Spawns this runtime on
 * tests/integration/fixtures/end_exit.ts, once per driver and situation; a
 * driver's situations run at once (tests/support/case_batch.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { caseBatch } from "../support/case_batch.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const fixture = `${repo}/tests/integration/fixtures/end_exit.ts`;
const onDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
const argv = onDeno
  ? [`${repo}/node_modules/.bin/deno`, "run", "-A", fixture]
  : [`${repo}/node_modules/.bin/bun`, fixture];

// From the spawn: long enough to start the runtime on a loaded machine, far
// shorter than the fixture's 60 s connect_timeout, which a connect attempt
// left running would keep the process alive for.
const EXIT_DEADLINE_MS = 20_000;

interface Run {
  code: number | "running";
  out: string;
  pids: number[];
  settled: string[] | undefined;
}

let seq = 0;

/** Runs the fixture; `code` is "running" when it had not exited by the deadline (then killed). */
function runFixture(driver: string, situation: string, target?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {
      ...process.env as Record<string, string>,
      END_EXIT_APP: `end_exit_${process.pid}_${++seq}`,
    };
    if (target) env.END_EXIT_TARGET = target;
    const child = spawn(argv[0], [...argv.slice(1), driver, situation], {
      cwd: repo,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => out += d);
    child.stderr.on("data", (d) => out += d);
    child.on("error", reject);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish("running");
    }, EXIT_DEADLINE_MS);
    const finish = (code: number | "running") => {
      clearTimeout(timer);
      const pids = JSON.parse(/^pids (.*)$/m.exec(out)?.[1] ?? "[]") as number[];
      const ended = /^ended (.*)$/m.exec(out)?.[1];
      resolve({ code, out, pids, settled: ended ? JSON.parse(ended) : undefined });
    };
    child.on("exit", (code) => finish(code ?? -1));
  });
}

/** Resumes backends a fixture stopped (SIGCONT): they then see the closed socket and exit. */
function resume(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // Gone already.
    }
  }
}

const situations: [string, string, string[]][] = [
  ["idle", "an idle pool", []],
  ["leased", "a handler leased and never released", []],
  ["short-query", "a short query in flight", ["ok"]],
  ["sleep-query", "a pg_sleep(0.3) in flight", ["ok"]],
  ["pipelined", "ten queries in flight on a pipelined group", Array(10).fill("ok")],
  ["silent-idle", "idle sessions on backends that stopped answering", []],
  ["silent-query", "a query in flight on a backend that stopped answering", ["ConnectionError"]],
];

for (const { name } of runtimeDrivers()) {
  describe(`pool.end() over ${name}: the process exits by itself afterwards`, () => {
    let server: TestServer;
    let stalled: TestProxy;

    before(async () => {
      [server] = await sharedServers();
      stalled = await startProxy({ target: server });
      stalled.stall();
    });

    after(async () => {
      await stalled.close();
    });

    const cases: [string, () => Promise<void>][] = situations.map((
      [situation, title, expected],
    ) => [
      `with ${title}`,
      async () => {
        const run = await runFixture(name, situation);
        resume(run.pids);
        assert.deepEqual(run.settled, expected, run.out);
        assert.equal(run.code, 0, run.out);
      },
    ]);

    if (name !== "bun-sql") {
      cases.push(["with pool.listen active", async () => {
        const run = await runFixture(name, "listen");
        assert.deepEqual(run.settled, [], run.out);
        assert.equal(run.code, 0, run.out);
      }]);
    }

    cases.push([
      "with the first session still connecting to a server that never answers",
      async () => {
        const run = await runFixture(name, "opening", `${stalled.host}:${stalled.port}`);
        assert.deepEqual(run.settled, ["PoolClosedError"], run.out);
        assert.equal(run.code, 0, run.out);
      },
    ]);

    const batch = caseBatch(cases);
    after(() => batch.stop());
    for (const [title] of cases) it(title, () => batch.check(title));
  });
}
