/**
 * Two parts of `bench/run.ts`: cold start (`bench/cold_start.ts`, a fresh
 * process per measurement, pgdbpool and the bare driver interleaved) and
 * overload (`bench/overload.ts`: 1,000 callers on 10 connections, pgdbpool
 * against pg.Pool), each with its report and its targets' verdicts.
 *
 * @module
 */
import { buildColdJs } from "./cold_js.ts";
import { median } from "./lib.ts";
import { judge } from "./verdict.ts";

/** A result row, as `bench/run.ts` records it. */
export type PartRow = Record<string, unknown> & { runtime: string; rep: number };

/** What a part needs from `bench/run.ts`. */
export interface PartContext {
  runtimes: string[];
  reps: number;
  url: string;
  measureMs: number;
  /** Runs one worker in a fresh process; returns its JSON lines. */
  run(runtime: string, script: string, args: string[]): Promise<Record<string, unknown>[]>;
  record(row: PartRow): void;
  log(line: string): void;
}

const COLD_SUBJECTS = ["bare", "pgdbpool", "pgdbpool-named"];
// On Bun, also the JavaScript form JSR's npm layer serves it (bench/cold_js.ts).
const coldSubjects = (rt: string) =>
  rt === "bun" ? [...COLD_SUBJECTS, "pgdbpool-js"] : COLD_SUBJECTS;
const OVERLOAD = ["pg", "pgdbpool-nodepg", "pgdbpool"];

const rotate = <T>(list: readonly T[], by: number) => [
  ...list.slice(by % list.length),
  ...list.slice(0, by % list.length),
];

/** Cold start: one unmeasured run per runtime and subject (module caches), then `reps` interleaved. */
export async function runCold(ctx: PartContext): Promise<void> {
  if (ctx.runtimes.includes("bun")) buildColdJs();
  for (const rt of ctx.runtimes) {
    for (const s of coldSubjects(rt)) {
      await ctx.run(rt, "cold_start", [`--subject=${s}`, `--url=${ctx.url}`]);
    }
  }
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`[bench] cold start rep ${rep + 1}/${ctx.reps}`);
    for (const rt of ctx.runtimes) {
      for (const s of rotate(coldSubjects(rt), rep)) {
        const [row] = await ctx.run(rt, "cold_start", [`--subject=${s}`, `--url=${ctx.url}`]);
        ctx.record({ kind: "cold", runtime: rt, subject: s, ...row, rep });
      }
    }
  }
}

/** Overload: `reps` interleaved runs of each contender. */
export async function runOverload(ctx: PartContext): Promise<void> {
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`[bench] overload rep ${rep + 1}/${ctx.reps}`);
    for (const rt of ctx.runtimes) {
      for (const id of rotate(OVERLOAD, rep)) {
        const [row] = await ctx.run(rt, "overload", [
          `--contender=${id}`,
          `--url=${ctx.url}`,
          `--measure=${ctx.measureMs}`,
        ]);
        ctx.record({ kind: "overload", runtime: rt, contender: id, ...row, rep });
      }
    }
  }
}

const fmt = (x: number, d = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })
    : "–";

function span(v: number[], d = 0): string {
  const f = v.filter(Number.isFinite);
  if (!f.length) return "–";
  return f.length === 1
    ? fmt(f[0], d)
    : `${fmt(median(f), d)} [${fmt(Math.min(...f), d)}–${fmt(Math.max(...f), d)}]`;
}

/** Per-repetition differences a − b of a field, matched on rep. */
function diffs(a: PartRow[], b: PartRow[], field: string): number[] {
  return a.flatMap((x) => {
    const y = b.find((r) => r.rep === x.rep);
    return y ? [(x[field] as number) - (y[field] as number)] : [];
  }).filter(Number.isFinite);
}

/** The cold-start table and verdicts. */
export function coldReport(rows: PartRow[], runtimes: string[]): { md: string; targets: string[] } {
  const ok = rows.filter((r) => r.kind === "cold" && !r.error);
  const lines = [
    "\n| runtime | subject | import ms | createPool → first result ms | total ms | import CPU ms | first result CPU ms |",
    "|---|---|---:|---:|---:|---:|---:|",
  ];
  const targets: string[] = [];
  for (const rt of runtimes) {
    const by = (s: string) =>
      ok.filter((r) => r.runtime === rt && r.subject === s).map((r): PartRow => ({
        ...r,
        totalMs: (r.importMs as number) + (r.firstMs as number),
      }));
    for (const s of coldSubjects(rt)) {
      const rs = by(s);
      if (!rs.length) continue;
      const label = s === "bare"
        ? (rt === "bun" ? "Bun.SQL alone" : "postgres.js alone")
        : s === "pgdbpool"
        ? "mod.ts, default driver"
        : s === "pgdbpool-js"
        ? "mod.js (one .js per module, as JSR serves npm), default driver"
        : "mod.ts + driver named and imported up front";
      lines.push(
        `| ${rt} | ${label} | ${span(rs.map((r) => r.importMs as number), 1)} | ${
          span(rs.map((r) => r.firstMs as number), 1)
        } | ${span(rs.map((r) => r.totalMs as number), 1)} | ${
          span(rs.map((r) => r.importCpuMs as number), 1)
        } | ${span(rs.map((r) => r.firstCpuMs as number), 1)} |`,
      );
    }
    const mine = by("pgdbpool");
    const bare = by("bare");
    const named = by("pgdbpool-named");
    if (named.length && bare.length) {
      targets.push(
        `- ${rt} cold start, first result above the bare driver's with the driver imported up front (no target; what the pool adds to a first query): ${
          span(diffs(named, bare, "firstMs"), 1)
        } ms`,
      );
    }
    const js = by("pgdbpool-js");
    if (js.length && bare.length) {
      targets.push(
        `- ${rt} cold start from the JavaScript form (JSR's npm layer; no target), above the bare driver's: import ${
          span(diffs(js, bare, "importMs"), 1)
        } ms (CPU ${span(diffs(js, bare, "importCpuMs"), 1)}), sum ${
          span(diffs(js, bare, "totalMs"), 1)
        } ms`,
      );
    }
    if (!mine.length || !bare.length) continue;
    // CPU time moves less than wall time on a shared machine: the same differences, for reading.
    const cpu = (a: PartRow[], field: string) => span(diffs(a, bare, field), 1);
    const cpuTotal = (a: PartRow[]) =>
      a.map((r): PartRow => ({ ...r, cpu: (r.importCpuMs as number) + (r.firstCpuMs as number) }));
    targets.push(
      `- ${rt} cold start in CPU ms above the bare driver's (no target): import ${
        cpu(mine, "importCpuMs")
      }, first result ${cpu(mine, "firstCpuMs")}, sum ${
        span(diffs(cpuTotal(mine), cpuTotal(bare), "cpu"), 1)
      }${
        named.length ? `; driver imported up front: first result ${cpu(named, "firstCpuMs")}` : ""
      }`,
    );
    targets.push(
      `- ${rt} cold start, import above the bare driver's: ${
        judge(diffs(mine, bare, "importMs"), 10, "lower", " ms", 1).text
      }`,
      `- ${rt} cold start, first result above the bare driver's (pgdbpool's includes loading its driver): ${
        judge(diffs(mine, bare, "firstMs"), 1, "lower", " ms", 1).text
      }`,
      `- ${rt} cold start, import + first result above the bare driver's (the sum a request pays; the two budgets together, 11 ms): ${
        judge(diffs(mine, bare, "totalMs"), 11, "lower", " ms", 1).text
      }`,
    );
  }
  return { md: lines.join("\n"), targets };
}

/** The overload table and verdicts. */
export function overloadReport(
  rows: PartRow[],
  runtimes: string[],
): { md: string; targets: string[] } {
  const ok = rows.filter((r) => r.kind === "overload" && !r.error);
  const lines = [
    "\n| runtime | contender | queries/s | wait p50 ms | wait p99 ms | wait max ms | served per caller min / median / max | starved | heap B per queued caller | heap growth KiB |",
    "|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
  ];
  const targets: string[] = [];
  for (const rt of runtimes) {
    const pick = (id: string) => ok.filter((r) => r.runtime === rt && r.contender === id);
    for (const id of OVERLOAD) {
      const rs = pick(id);
      if (!rs.length) continue;
      const f = (k: string) => rs.map((r) => r[k] as number);
      lines.push(
        `| ${rt} | ${id} | ${span(f("qps"))} | ${span(f("waitP50Ms"), 1)} | ${
          span(f("waitP99Ms"), 1)
        } | ${span(f("waitMaxMs"), 1)} | ${span(f("servedMin"))} / ${span(f("servedMedian"))} / ${
          span(f("servedMax"))
        } | ${span(f("starved"))} | ${span(f("bytesPerWaiter"))} | ${
          span(f("heapGrowth").map((x) => x / 1024))
        } |`,
      );
    }
    for (const id of ["pgdbpool-nodepg", "pgdbpool"]) {
      const rs = pick(id);
      if (!rs.length) continue;
      // Starved: a caller that got far fewer queries than the typical one in the window. Under
      // FIFO in a closed loop each gets about the same share; the longest wait against the
      // FIFO wait ((c − size) / throughput) shows how steady the line moved (pg.Pool, FIFO
      // too, for comparison: the machine's hiccups stretch both alike).
      const share = rs.map((r) => (r.servedMin as number) / (r.servedMedian as number));
      const steady = (r: PartRow) =>
        (r.waitMaxMs as number) /
        (((r.c as number) - (r.size as number)) / (r.qps as number) * 1000);
      targets.push(
        `- ${rt} overload (${id}, 1,000 callers on 10), no caller starved: the least-served caller's share of the median caller's queries: ${
          judge(share, 0.5, "higher").text
        }; longest wait / FIFO wait ${span(rs.map(steady), 2)}× (pg.Pool ${
          span(pick("pg").map(steady), 2)
        }×); heap growth over the window ${
          span(rs.map((r) => (r.heapGrowth as number) / 1024))
        } KiB`,
      );
      const pg = pick("pg");
      if (pg.length) {
        const ratio = rs.flatMap((x) => {
          const y = pg.find((r) => r.rep === x.rep);
          return y ? [(y.waitP99Ms as number) / (x.waitP99Ms as number)] : [];
        });
        targets.push(
          `- ${rt} overload p99 wait, pg.Pool's / ${id}'s (no target; above 1: pgdbpool waits less): ${
            span(ratio, 2)
          }×`,
        );
      }
    }
  }
  return { md: lines.join("\n"), targets };
}
