/**
 * The HTTP examples as users run them: each is spawned as its own process
 * (`deno run -A …`, `bun …`) against a fresh database on a test server,
 * exercised over real HTTP, then stopped with SIGTERM. The file splits the
 * work by the runtime running it: under `deno test` it covers
 * `deno_serve.ts` and `hono.ts` on Deno, under `bun test` `bun_serve.ts` and
 * `hono.ts` on Bun, so a full run (both runtimes) covers every pairing once.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const onBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const runtime = onBun
  ? [`${repo}/node_modules/.bin/bun`]
  : [`${repo}/node_modules/.bin/deno`, "run", "-A"];
const examples = onBun ? ["bun_serve.ts", "hono.ts"] : ["deno_serve.ts", "hono.ts"];

const START_MS = 60_000; // a cold runtime start, module loading included
const REQUEST_MS = 15_000;
const EXIT_MS = 15_000;

interface Note {
  id: number;
  text: string;
}

/** A spawned example: its output so far, and its exit once it came. */
interface Running {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
}

function start(example: string, databaseUrl: string): Running {
  const child = spawn(runtime[0], [...runtime.slice(1), `${repo}/examples/${example}`], {
    cwd: repo,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => out += d);
  child.stderr?.on("data", (d) => out += d);
  const exited = new Promise<number | string>((resolve) => {
    child.on("error", (err) => resolve(`spawn failed: ${err.message}`));
    child.on("exit", (code, signal) => resolve(code ?? `killed by ${signal}`));
  });
  return { child, output: () => out, exited };
}

/** Polls `probe` every 25 ms until it returns a value, or throws `what` after `ms`. */
async function waitFor<T>(
  what: () => string,
  ms: number,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(what());
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    signal: AbortSignal.timeout(REQUEST_MS),
  });
  return { status: response.status, body: await response.json() };
}

/** A database of its own for one run, so runs on a shared server never meet. */
async function withDatabase(
  server: TestServer,
  fn: (url: string, appName: string, database: string) => Promise<void>,
): Promise<void> {
  const suffix = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const database = `examples_${suffix}`;
  const appName = `example-${suffix}`;
  await adminQuery(server, `CREATE DATABASE ${database}`);
  const auth = `${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}`;
  const url = `postgres://${auth}@${server.host}:${server.port}/${database}` +
    `?application_name=${appName}`;
  try {
    await fn(url, appName, database);
  } finally {
    await adminQuery(server, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

async function exercise(example: string): Promise<void> {
  const [server] = await sharedServers();
  await withDatabase(server, async (url, appName, database) => {
    const app = start(example, url);
    try {
      const port = await waitFor(
        () => `${example} printed no port within ${START_MS} ms:\n${app.output()}`,
        START_MS,
        () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(app.output())?.[1],
      );
      const base = `http://127.0.0.1:${port}`;

      // Create, read, list.
      const created = await call(base, "POST", "/notes", { text: "first" });
      assert.equal(created.status, 201, app.output());
      const first = created.body as Note;
      assert.equal(first.text, "first");
      assert.deepEqual(await call(base, "GET", `/notes/${first.id}`), { status: 200, body: first });
      assert.deepEqual(await call(base, "GET", "/notes"), { status: 200, body: [first] });
      assert.equal((await call(base, "GET", "/notes/999999")).status, 404);
      assert.equal((await call(base, "POST", "/notes", { wrong: 1 })).status, 400);

      // 50 at once, more than either group has sessions: each answered correctly.
      const answers = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            i % 2 === 0
              ? call(base, "POST", "/notes", { text: `concurrent-${i}` })
              : call(base, "GET", `/notes/${first.id}`),
        ),
      );
      answers.forEach((a, i) => {
        if (i % 2 === 1) return assert.deepEqual(a, { status: 200, body: first }, `request ${i}`);
        assert.equal(a.status, 201, `request ${i}: ${JSON.stringify(a.body)}`);
        assert.equal((a.body as Note).text, `concurrent-${i}`, `request ${i}`);
      });
      const listed = (await call(base, "GET", "/notes")).body as Note[];
      assert.equal(listed.length, 26);

      // A handler that throws after its INSERT: 500, and the row is not there.
      const doomed = `doomed-${appName}`;
      const failed = await call(base, "POST", "/notes?fail=1", { text: doomed });
      assert.equal(failed.status, 500, JSON.stringify(failed.body));
      const target = { ...server, database };
      const left = await adminQuery(
        target,
        "SELECT count(*)::int AS n FROM notes WHERE text = $1",
        [
          doomed,
        ],
      );
      assert.equal(left[0].n, 0, "the failed request's insert was rolled back");
      const stored = await adminQuery(target, "SELECT count(*)::int AS n FROM notes");
      assert.equal(stored[0].n, 26);

      // SIGTERM: the pool ends, then the server, then the process with 0.
      // process.kill, not child.kill: Deno's child.kill() reports the exit as
      // "killed by SIGTERM" even when the child handled the signal and exited 0.
      process.kill(app.child.pid!, "SIGTERM");
      const code = await Promise.race([
        app.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve("still running"), EXIT_MS)),
      ]);
      assert.equal(code, 0, app.output());
      // The backends end right after the client's goodbye; give them a moment to go.
      await waitFor(
        () => `sessions of ${appName} still on the server after the exit`,
        EXIT_MS,
        () => noSessionOf(server, appName),
      );
    } finally {
      if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill("SIGKILL");
      await app.exited;
    }
  });
}

// True once the server lists no session named `appName`.
async function noSessionOf(server: TestServer, appName: string): Promise<true | undefined> {
  const rows = await adminQuery(
    server,
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
    [appName],
  );
  return rows[0].n === 0 ? true : undefined;
}

describe(`HTTP examples on ${onBun ? "Bun" : "Deno"}`, () => {
  for (const example of examples) {
    it(`${example}: CRUD, 50 concurrent requests, a failing one rolled back, SIGTERM exits 0 with no session left`, async () => {
      await exercise(example);
    });
  }
});
