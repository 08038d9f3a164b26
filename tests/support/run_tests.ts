/**
 * The whole test run: `deno run -A tests/support/run_tests.ts [options] [paths or name filters]`.
 *
 * Starts two embedded PostgreSQL servers once (unless `PGDBPOOL_TEST_URLS`,
 * `DATABASE_URL` or `PGHOST` names existing ones), hands them to the test
 * processes through `PGDBPOOL_TEST_URLS`, runs `deno test` and then `bun test`
 * over `tests/` (Deno in two processes: the unit tests two files at a time,
 * then the rest), streams their output, counts the tests of each runtime (a
 * `describe` counts its `it`s, not itself), lists the skipped tests by name,
 * prints `N passed, N failed, N skipped` as its last line, stops the servers, deletes the temporary directory, and exits 1 if
 * anything failed, a runtime crashed, or no test ran at all (a runtime that
 * ran none is noted).
 *
 * Options:
 * - `--deno-only`, `--bun-only`: run one runtime.
 * - arguments naming existing files or directories: run those instead of `tests/`.
 * - other arguments: test name filters (regular expressions; several are OR-ed),
 *   passed as `deno test --filter` and `bun test -t`. Deno matches them against
 *   top-level names only (a `describe`'s name, not its `it`s).
 * - env `PGDBPOOL_TEST_RUNTIME_TIMEOUT_S`: kill a runtime that runs longer (default 1800).
 *
 * @module
 */

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { disposeAllServers, sharedServers, sweepDeadHarnesses, templateEnv } from "./servers.ts";

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** Names of the skipped tests (with their reason where the report gives one). */
  skippedNames: string[];
  /** Names of the failed tests, each with the first line of its failure. */
  failedNames: string[];
  notes: string[];
}

const repo = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

function usage(): never {
  console.error(
    "usage: deno run -A tests/support/run_tests.ts [--deno-only|--bun-only] [path|name-filter ...]",
  );
  Deno.exit(2);
}

function parseArgs(
  argv: string[],
): { runtimes: ("deno" | "bun")[]; paths: string[]; filters: string[] } {
  let runtimes: ("deno" | "bun")[] = ["deno", "bun"];
  const paths: string[] = [];
  const filters: string[] = [];
  for (const arg of argv) {
    if (arg === "--deno-only") runtimes = ["deno"];
    else if (arg === "--bun-only") runtimes = ["bun"];
    else if (arg === "--help" || arg === "-h") usage();
    else if (arg.startsWith("--")) {
      console.error(`unknown option ${arg}`);
      usage();
    } else if (fs.existsSync(path.resolve(repo, arg))) {
      paths.push(path.relative(repo, path.resolve(repo, arg)) || ".");
    } else filters.push(arg);
  }
  return { runtimes, paths, filters };
}

function bin(name: string): string {
  const local = path.join(repo, "node_modules", ".bin", name);
  if (fs.existsSync(local)) return local;
  return name === "deno" ? Deno.execPath() : name;
}

/** One test process of a runtime: its command line and the extra environment it runs with. */
interface Part {
  argv: string[];
  junit: string;
  env: Record<string, string>;
}

/**
 * The test processes of a runtime. Deno's whole run is two: the unit tests, which share
 * nothing, two files at a time (Deno spends about half a second starting each file), then the
 * rest one file at a time, as they share the servers.
 */
function parts(runtime: "deno" | "bun", root: string, paths: string[], filters: string[]): Part[] {
  const junit = (name: string) => path.join(root, `${name}-junit.xml`);
  if (runtime === "bun" || paths.length > 0) {
    return [{
      argv: command(runtime, junit(runtime), paths, filters),
      junit: junit(runtime),
      env: {},
    }];
  }
  const rest = fs.readdirSync(path.join(repo, "tests"))
    .filter((d) => d !== "unit" && fs.statSync(path.join(repo, "tests", d)).isDirectory())
    .map((d) => `tests/${d}/`);
  const unit = command(runtime, junit("deno-unit"), ["tests/unit/"], filters);
  unit.splice(2, 0, "--parallel");
  return [
    { argv: unit, junit: junit("deno-unit"), env: { DENO_JOBS: "2" } },
    { argv: command(runtime, junit("deno"), rest, filters), junit: junit("deno"), env: {} },
  ];
}

function command(
  runtime: "deno" | "bun",
  junit: string,
  paths: string[],
  filters: string[],
): string[] {
  const filter = filters.length === 0
    ? undefined
    : filters.length === 1
    ? filters[0]
    : `(${filters.join(")|(")})`;
  if (runtime === "deno") {
    return [
      bin("deno"),
      "test",
      "-A",
      // Lets the leak tests force a collection (Bun has Bun.gc).
      "--v8-flags=--expose-gc",
      `--junit-path=${junit}`,
      ...(filter ? [`--filter=/${filter}/`] : []),
      ...(paths.length ? paths : ["tests/"]),
    ];
  }
  // Bun takes an argument as a path only when it starts with ./ or /.
  const bunPaths = (paths.length ? paths : ["tests/"]).map((p) =>
    p.startsWith("/") || p.startsWith(".") ? p : `./${p}`
  );
  return [
    bin("bun"),
    "test",
    "--reporter=junit",
    `--reporter-outfile=${junit}`,
    // bunfig.toml's timeout covers tests but not hooks (5 s, too short for starting servers).
    "--timeout=60000",
    ...(filter ? ["-t", filter] : []),
    ...bunPaths,
  ];
}

// ---------------------------------------------------------------------------
// Running one runtime
// ---------------------------------------------------------------------------

let current: Deno.ChildProcess | undefined;
let interrupted = false;

/** Copies a child's stream to ours and keeps its tail for parsing the summary. */
async function tee(
  from: ReadableStream<Uint8Array>,
  to: { write(p: Uint8Array): Promise<number> },
  keep: { text: string },
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of from) {
    let written = 0;
    while (written < chunk.length) written += await to.write(chunk.subarray(written));
    keep.text = (keep.text + decoder.decode(chunk, { stream: true })).slice(-512 * 1024);
  }
}

async function runRuntime(
  runtime: "deno" | "bun",
  argv: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number; output: string; timedOut: boolean }> {
  console.log(
    `\n=== ${runtime}: ${
      argv.map((a) => path.isAbsolute(a) ? path.relative(repo, a) || a : a).join(" ")
    }\n`,
  );
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: repo,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  current = child;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    console.error(`\n${runtime}: still running after ${timeoutMs / 1000} s: killing it`);
    try {
      child.kill("SIGTERM");
      setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
    } catch { /* gone */ }
  }, timeoutMs);
  const out = { text: "" };
  const err = { text: "" };
  const [status] = await Promise.all([
    child.status,
    tee(child.stdout, Deno.stdout, out),
    tee(child.stderr, Deno.stderr, err),
  ]);
  clearTimeout(timer);
  current = undefined;
  return { code: status.code, output: stripAnsi(out.text + "\n" + err.text), timedOut };
}

// ---------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------

interface JunitCase {
  name: string;
  failure: string | undefined;
  skipped: boolean;
  /** The `<skipped message="...">` text, when the report has one. */
  skipReason?: string;
}

/** The `<testcase>` elements of a JUnit file, with the full name (`describe > it`) and their outcome. */
function parseJunit(xml: string, runtime: "deno" | "bun"): JunitCase[] {
  const cases: JunitCase[] = [];
  const suites: string[] = [];
  let open: JunitCase | undefined;
  const tag = /<(\/?)(testsuite|testcase|failure|error|skipped)\b([^>]*?)(\/?)>/g;
  for (const m of xml.matchAll(tag)) {
    const [, closing, name, attrs, selfClosing] = m;
    const attr = (key: string): string =>
      unescapeXml(new RegExp(`\\b${key}="([^"]*)"`).exec(attrs)?.[1] ?? "");
    if (name === "testsuite") {
      if (closing) suites.pop();
      else if (!selfClosing) suites.push(attr("name"));
    } else if (name === "testcase") {
      if (closing) {
        open = undefined;
        continue;
      }
      // Bun nests describes as testsuites (the outermost one is the file); Deno puts the full
      // path into the name ("outer > inner > it").
      const prefix = runtime === "bun" ? suites.slice(1) : [];
      const c: JunitCase = {
        name: [...prefix, attr("name")].join(" > "),
        failure: undefined,
        skipped: false,
      };
      cases.push(c);
      open = selfClosing ? undefined : c;
    } else if (open && !closing) {
      if (name === "skipped") {
        open.skipped = true;
        open.skipReason = attr("message") || undefined;
      } else open.failure = attr("message") || name;
    }
  }
  return cases;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-f]+));/gi, (_, e, dec, hex) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" } as Record<string, string>)[e];
  });
}

function stripAnsi(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
}

/**
 * Deno reports a `describe` as a test and its `it`s as steps, each step a testcase named
 * "describe > it": count the leaves. A parent counts only if it failed by itself (a hook),
 * not because of its steps. Errors outside any test ("(uncaught error)") are not in the
 * JUnit file: count them from the output.
 */
function countDeno(cases: JunitCase[], output: string): Counts {
  const c: Counts = {
    passed: 0,
    failed: 0,
    skipped: 0,
    skippedNames: skippedNames(cases),
    failedNames: failedNames(cases),
    notes: [],
  };
  const names = cases.map((t) => t.name);
  for (const t of cases) {
    const parent = names.some((n) => n.startsWith(`${t.name} > `));
    if (parent) {
      if (t.failure && !/^\d+ test steps? failed/.test(t.failure)) c.failed++;
    } else if (t.skipped) c.skipped++;
    else if (t.failure) c.failed++;
    else c.passed++;
  }
  const failures = output.split(/\n\s*FAILURES\s*\n/).at(-1) ?? "";
  const uncaught = failures.split("\n").filter((l) => /\(uncaught error\)\s*$/.test(l)).length;
  if (uncaught) {
    c.failed += uncaught;
    c.notes.push(`${uncaught} uncaught error(s) outside tests`);
  }
  return c;
}

/**
 * Bun's own summary (" N pass", " N fail", " N errors") counts leaves and, unlike its JUnit
 * file, also errors between tests and failed hooks; the JUnit file is the fallback.
 */
function countBun(cases: JunitCase[], output: string): Counts | undefined {
  const tail = output.slice(
    output.lastIndexOf("\nRan ") >= 0 ? Math.max(0, output.lastIndexOf("\nRan ") - 2000) : 0,
  );
  const num = (word: string): number | undefined => {
    const m = new RegExp(`^\\s*(\\d+) ${word}\\b`, "m").exec(tail);
    return m ? Number(m[1]) : undefined;
  };
  const pass = num("pass");
  const fail = num("fail");
  if (pass !== undefined || fail !== undefined) {
    const errors = num("errors?") ?? 0;
    const c: Counts = {
      passed: pass ?? 0,
      failed: (fail ?? 0) + errors,
      skipped: (num("skip") ?? 0) + (num("todo") ?? 0),
      skippedNames: skippedNames(cases),
      failedNames: failedNames(cases),
      notes: errors ? [`${errors} error(s) outside tests`] : [],
    };
    return c;
  }
  if (cases.length === 0) return undefined;
  return {
    passed: cases.filter((t) => !t.failure && !t.skipped).length,
    failed: cases.filter((t) => t.failure).length,
    skipped: cases.filter((t) => t.skipped && !t.failure).length,
    skippedNames: skippedNames(cases),
    failedNames: failedNames(cases),
    notes: ["counted from the JUnit file"],
  };
}

/** The failed leaves, as `describe > it: first line of the failure`. */
function failedNames(cases: JunitCase[]): string[] {
  const names = cases.map((t) => t.name);
  return cases
    .filter((t) => t.failure && !names.some((n) => n.startsWith(`${t.name} > `)))
    .map((t) => `${t.name}: ${stripAnsi(t.failure ?? "").trim().split("\n")[0].slice(0, 300)}`);
}

/** The skipped leaves, as `describe > it` plus the reason where the report gives one. */
function skippedNames(cases: JunitCase[]): string[] {
  const names = cases.map((t) => t.name);
  return cases
    .filter((t) => t.skipped && !t.failure && !names.some((n) => n.startsWith(`${t.name} > `)))
    .map((t) => (t.skipReason ? `${t.name} (${t.skipReason})` : t.name));
}

/** The counts of a runtime's processes, added up. */
function merge(a: Counts | undefined, b: Counts): Counts {
  if (!a) return b;
  return {
    passed: a.passed + b.passed,
    failed: a.failed + b.failed,
    skipped: a.skipped + b.skipped,
    skippedNames: [...a.skippedNames, ...b.skippedNames],
    failedNames: [...a.failedNames, ...b.failedNames],
    notes: [...new Set([...a.notes, ...b.notes])],
  };
}

function count(
  runtime: "deno" | "bun",
  junitFile: string,
  result: { code: number; output: string; timedOut: boolean },
): Counts {
  let cases: JunitCase[] | undefined;
  try {
    cases = parseJunit(fs.readFileSync(junitFile, "utf8"), runtime);
  } catch {
    cases = undefined;
  }
  let c: Counts | undefined;
  if (runtime === "deno") c = cases ? countDeno(cases, result.output) : undefined;
  else c = countBun(cases ?? [], result.output);
  if (!c) {
    c = {
      passed: 0,
      failed: 1,
      skipped: 0,
      skippedNames: [],
      failedNames: [],
      notes: [`crashed: no test report (exit code ${result.code})`],
    };
  } else if (result.code !== 0 && c.failed === 0) {
    c.failed = 1;
    c.notes.push(`exit code ${result.code} without a failing test: counted as 1 failure`);
  }
  if (result.timedOut) c.notes.push("killed after the timeout");
  return c;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const { runtimes, paths, filters } = parseArgs(Deno.args);
  const timeoutMs = Number(Deno.env.get("PGDBPOOL_TEST_RUNTIME_TIMEOUT_S") || 1800) * 1000;

  // One directory for the whole run; test processes put their private servers in it too,
  // so whatever a crashed test process leaves behind is found and killed here.
  const root = fs.mkdtempSync(path.join(Deno.env.get("TMPDIR") || "/tmp", "pgdbpool-test-"));
  fs.writeFileSync(path.join(root, "owner.pid"), `${Deno.pid}\n`);
  fs.chmodSync(root, 0o755); // the servers' OS user must reach its directories inside
  Deno.env.set("PGDBPOOL_TEST_TMPDIR", root);

  const onSignal = (): void => {
    if (interrupted) Deno.exit(130); // second Ctrl-C: the exit handlers still kill the servers
    interrupted = true;
    console.error("\ninterrupted: stopping the tests and the servers (Ctrl-C again to force)");
    try {
      current?.kill("SIGTERM");
    } catch { /* gone */ }
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const totals = { passed: 0, failed: 0, skipped: 0 };
  const lines: string[] = [];
  const skippedLines: string[] = [];
  const failedLines: string[] = [];
  try {
    const env: Record<string, string> = { PGDBPOOL_TEST_TMPDIR: root };
    const external = ["PGDBPOOL_TEST_URLS", "DATABASE_URL", "PGHOST"].find((k) => Deno.env.get(k));
    if (external) {
      console.log(`servers: given by ${external}`);
    } else {
      const started = performance.now();
      const servers = await sharedServers();
      env.PGDBPOOL_TEST_URLS = servers.map((s) => s.url).join(",");
      Object.assign(env, await templateEnv());
      console.log(
        `servers: ${servers.map((s) => `${s.host}:${s.port}`).join(", ")} ` +
          `(started in ${Math.round(performance.now() - started)} ms; logs in ${root})`,
      );
    }
    if (Deno.stdout.isTerminal()) env.FORCE_COLOR = "1";

    for (const runtime of runtimes) {
      if (interrupted) break;
      let c: Counts | undefined;
      for (const part of parts(runtime, root, paths, filters)) {
        if (interrupted) break;
        const result = await runRuntime(runtime, part.argv, { ...env, ...part.env }, timeoutMs);
        sweepDeadHarnesses(root);
        c = merge(c, count(runtime, part.junit, result));
      }
      if (!c) break;
      // Said, not failed: Bun reports nothing at all for a file whose describe is skipped.
      if (c.passed + c.failed + c.skipped === 0) c.notes.push("ran no test");
      totals.passed += c.passed;
      totals.failed += c.failed;
      totals.skipped += c.skipped;
      for (const name of c.skippedNames) skippedLines.push(`  skipped (${runtime}): ${name}`);
      for (const name of c.failedNames) failedLines.push(`  FAILED (${runtime}): ${name}`);
      const notes = c.notes.length ? ` (${c.notes.join("; ")})` : "";
      lines.push(
        `${runtime}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped${notes}`,
      );
    }
  } catch (err) {
    console.error(
      `test run failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`,
    );
    totals.failed++;
    lines.push(`runner: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  } finally {
    await disposeAllServers();
    sweepDeadHarnesses(path.dirname(root));
    fs.rmSync(root, { recursive: true, force: true });
  }
  if (interrupted) {
    totals.failed++;
    lines.push("interrupted");
  }
  if (totals.passed + totals.failed + totals.skipped === 0) {
    totals.failed++;
    lines.push("ran no test");
  }
  console.log("");
  for (const line of skippedLines) console.log(line);
  for (const line of failedLines) console.log(line);
  for (const line of lines) console.log(line);
  // CI prints this again at its very end, where a cut log still shows it.
  const summaryFile = Deno.env.get("PGDBPOOL_TEST_SUMMARY");
  if (summaryFile) fs.writeFileSync(summaryFile, [...failedLines, ...lines].join("\n") + "\n");
  console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  return totals.failed > 0 ? 1 : 0;
}

Deno.exit(await main());
