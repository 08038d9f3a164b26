/**
 * Where a cold start's CPU time goes, step by step: each run is a fresh
 * process that times (with `process.cpuUsage()`, and the wall clock) every
 * step of one subject; subjects are interleaved, the order rotating, after
 * one unmeasured run each (module caches warm, as on a deployed isolate).
 * Prints median [min–max] per step. By hand:
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cold_steps.ts --url=postgres://… --runs=9
 * node_modules/.bin/bun bench/cold_steps.ts --url=postgres://… --runs=9
 * ```
 *
 * Subjects:
 * - `bare`: the runtime's default driver alone (postgres.js on Deno, `Bun.SQL`
 *   on Bun): its import, a client, the first query; then a second client and
 *   its first query (the driver's code now compiled: what is left is the
 *   session's own work);
 * - `pgdbpool`: `mod.ts`, `createPool()`, the first `withHandler` (the
 *   default driver loads there); then a second pool and its first
 *   `withHandler` (a new session over compiled code);
 * - `pieces`: the same pool with the default driver's parts imported one by
 *   one first: `mod.ts`, the adapter, the driver;
 * - with `--forms=1`, instead: `import-ts` and `import-js`, the import alone
 *   of `mod.ts` and of its JavaScript form (one `.js` per module, as
 *   `bench/cold_js.ts` builds it), each through a literal specifier, so that
 *   both module graphs are built before the clock starts: what the
 *   TypeScript sources cost at import.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { median, parseArgs, runtime, scriptArgs } from "./lib.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
type Step = [name: string, cpuMs: number, wallMs: number];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Times each step of one subject in this process; prints the steps as JSON. */
async function child(subject: string, url: string): Promise<void> {
  const steps: Step[] = [];
  const cpu = () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  let c0 = cpu();
  let w0 = performance.now();
  const step = (name: string) => {
    const c = cpu();
    const w = performance.now();
    steps.push([name, c - c0, w - w0]);
    c0 = c;
    w0 = w;
  };
  const ends: (() => unknown)[] = [];
  const config = (driver?: unknown) => ({
    db: url,
    ...(driver ? { driver } : {}),
    groups: { default: { connection_count: 10 } },
  });
  if (subject === "bare") {
    const connect = await bareDriver(url);
    step("import the driver");
    for (const n of ["first", "second"]) {
      const client = connect();
      step(`${n} client`);
      await client.query();
      step(`${n} client's first query`);
      ends.push(client.end);
    }
  } else if (subject === "pgdbpool" || subject === "pieces") {
    const { createPool } = await import("../mod.ts");
    step("import mod.ts");
    let driver: unknown;
    if (subject === "pieces") {
      driver = await namedDriver(step);
    }
    for (const n of ["first", "second"]) {
      const pool = createPool(config(driver) as Any);
      step(`${n} createPool()`);
      await pool.withHandler("default", (db) => db.query("SELECT 1"));
      step(`${n} pool's first withHandler`);
      ends.push(() => pool.end());
    }
  } else if (subject === "import-ts") {
    await import("../mod.ts");
    step("import mod.ts");
  } else {
    throw new Error(`Unknown subject ${subject}`);
  }
  process.stdout.write(JSON.stringify(steps) + "\n");
  await Promise.race([
    Promise.all(ends.map((end) => end())),
    new Promise((res) => setTimeout(res, 1000)),
  ]);
}

/** The bare driver: imported now; `connect()` builds a client of 10 connections. */
async function bareDriver(url: string) {
  if (runtime === "bun") {
    const SQL = (globalThis as Any).Bun.SQL;
    return () => {
      const sql = new SQL({ url, max: 10 });
      return { query: () => sql`SELECT 1`, end: () => sql.close() };
    };
  }
  const postgres = (await import("postgres")).default as Any;
  return () => {
    const sql = postgres(url, { max: 10, onnotice: () => {} });
    return { query: () => sql`SELECT 1`, end: () => sql.end() };
  };
}

/** The default driver's parts, imported one by one: the adapter, then its client library. */
async function namedDriver(step: (name: string) => void): Promise<unknown> {
  if (runtime === "bun") {
    const { bunSql } = await import("../src/drivers/bun_sql/mod.ts");
    step("import the adapter");
    return bunSql();
  }
  const { postgresjs } = await import("../src/drivers/postgresjs/mod.ts");
  step("import the adapter");
  const postgres = (await import("postgres")).default as Any;
  step("import postgres.js");
  return postgresjs({ postgres });
}

// The JavaScript form's entry: a literal specifier, so the runtime builds its graph before it runs.
const JS_ENTRY = `import process from "node:process";
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
const c0 = cpu(); const w0 = performance.now();
await import("./mod.js");
process.stdout.write(JSON.stringify([["import mod.js", cpu() - c0, performance.now() - w0]]) + "\\n");
`;

function jsEntry(): string {
  const dir = path.join(ROOT, ".tmp", "bench", "cold_js");
  if (!fs.existsSync(path.join(dir, "mod.js"))) {
    throw new Error(
      "Build the JavaScript form first: node_modules/.bin/deno run -A bench/cold_js.ts",
    );
  }
  const entry = path.join(dir, "steps_entry.mjs");
  fs.writeFileSync(entry, JS_ENTRY);
  return entry;
}

function span(v: number[]): string {
  return `${median(v).toFixed(1)} [${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)}]`;
}

async function main(): Promise<void> {
  const args = parseArgs(scriptArgs());
  if (args.child) return await child(args.child, args.url);
  // Loaded here, not at the top: a child's steps must not find it loaded.
  const { execFileSync } = await import("node:child_process");
  const runs = Number(args.runs ?? 9);
  const subjects = args.forms ? ["import-ts", "import-js"] : ["bare", "pgdbpool", "pieces"];
  const script = fileURLToPath(import.meta.url);
  const exe = process.execPath;
  const argv = (subject: string): string[] => {
    if (subject === "import-js") return runtime === "deno" ? ["run", "-A", jsEntry()] : [jsEntry()];
    const own = [script, `--child=${subject}`, `--url=${args.url ?? ""}`];
    return runtime === "deno" ? ["run", "-A", ...own] : own;
  };
  const once = (subject: string): Step[] =>
    JSON.parse(execFileSync(exe, argv(subject), { cwd: ROOT, encoding: "utf8" }).trim());
  for (const s of subjects) once(s); // unmeasured: module caches warm
  const rows = new Map<string, Map<string, { cpu: number[]; wall: number[] }>>();
  for (let i = 0; i < runs; i++) {
    const order = subjects.map((_, k) => subjects[(k + i) % subjects.length]);
    for (const s of order) {
      const byStep = rows.get(s) ?? new Map();
      rows.set(s, byStep);
      for (const [name, c, w] of once(s)) {
        const cell = byStep.get(name) ?? { cpu: [], wall: [] };
        byStep.set(name, cell);
        cell.cpu.push(c);
        cell.wall.push(w);
      }
    }
  }
  console.log(`| subject | step | CPU ms on ${runtime} | wall ms |`);
  console.log("|---|---|---:|---:|");
  for (const [s, byStep] of rows) {
    for (const [name, { cpu, wall }] of byStep) {
      console.log(`| ${s} | ${name} | ${span(cpu)} | ${span(wall)} |`);
    }
  }
  console.log(`\n${runs} runs per subject, a fresh process each, interleaved.`);
}

await main();
process.exit(0);
