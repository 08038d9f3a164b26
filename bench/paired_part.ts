/**
 * The paired part of `bench/run.ts`: the targets that compare
 * pgdbpool with another pool or with its bare driver, measured in one
 * process in alternating slices (`bench/worker_db_paired.ts`), so that each
 * ratio is taken at nearly one moment of the shared machine's load. Each
 * repetition is a fresh process and gives the median of its slice pairs;
 * verdicts are judged over repetitions, like every other target.
 *
 * @module
 */
import { median } from "./lib.ts";
import { judge } from "./verdict.ts";
import type { PartContext, PartRow } from "./cold_overload_part.ts";

/** One target: pgdbpool's contender `a` against `b`, in one cell. */
interface Pair {
  runtime: string;
  a: string;
  b: string;
  shape: string;
  c: number;
  /** The ratio a / b must reach. */
  need: number;
  what: string;
}

const pair = (runtime: string, a: string, b: string, c: number, need: number, what: string) => ({
  runtime,
  a,
  b,
  shape: "select1",
  c,
  need,
  what,
});
const c1 = (runtime: string, a: string, b: string) =>
  pair(runtime, a, b, 1, 0.95, "c=1 within 5% of the bare driver");
const RESERVE = "exclusive ≥ 1.2× postgres.js reserve()";

/** The targets of issue 12 that compare two contenders. */
export const PAIRS: readonly Pair[] = [
  c1("deno", "pgdbpool-postgresjs", "postgresjs"),
  c1("deno", "pgdbpool-nodepg", "pg-named"),
  c1("bun", "pgdbpool-bunsql", "bunsql"),
  c1("bun", "pgdbpool-postgresjs", "postgresjs"),
  c1("bun", "pgdbpool-nodepg", "pg-named"),
  pair("deno", "pgdbpool-postgresjs", "postgresjs-reserve", 64, 1.2, RESERVE),
  pair("deno", "pgdbpool-nodepg", "postgresjs-reserve", 64, 1.2, RESERVE),
  pair("bun", "pgdbpool-bunsql", "postgresjs-reserve", 64, 1.2, RESERVE),
  pair("bun", "pgdbpool-bunsql", "pg-named", 64, 1.1, "exclusive ≥ 1.1× pg.Pool, named statements"),
  pair("bun", "pgdbpool-bunsql-pipe", "bunsql", 64, 0.97, "pipelined ≥ 0.97× Bun's own SQL pool"),
];

/** What the paired part needs beyond a part's context. */
export interface PairedContext extends PartContext {
  slices: number;
  sliceMs: number;
}

const key = (p: Pair | PartRow) => `${p.runtime} ${p.a} ${p.b} ${p.shape} ${p.c}`;

/** Runs every pair of the given runtimes, `reps` times, a fresh process each, order rotated. */
export async function runPairs(ctx: PairedContext): Promise<void> {
  const pairs = PAIRS.filter((p) => ctx.runtimes.includes(p.runtime));
  for (let rep = 0; rep < ctx.reps; rep++) {
    const order = [...pairs.slice(rep % pairs.length), ...pairs.slice(0, rep % pairs.length)];
    for (const p of order) {
      ctx.log(`[bench] paired rep ${rep + 1}/${ctx.reps}: ${key(p)}`);
      const [row] = await ctx.run(p.runtime, "worker_db_paired", [
        `--a=${p.a}`,
        `--b=${p.b}`,
        `--shape=${p.shape}`,
        `--c=${p.c}`,
        `--url=${ctx.url}`,
        `--slices=${ctx.slices}`,
        `--slice=${ctx.sliceMs}`,
      ]);
      ctx.record({ ...row, kind: "db-paired", runtime: p.runtime, rep } as PartRow);
    }
  }
}

const f2 = (x: number) => x.toFixed(2);

/** The paired table and its verdicts. */
export function pairsReport(rows: PartRow[], runtimes: string[]): {
  md: string;
  targets: string[];
} {
  const got = rows.filter((r) => r.kind === "db-paired" && !r.error && !r.unavailable);
  const lines = [
    "",
    "| runtime | cell | pgdbpool | against | a / b per repetition | slices, all repetitions | queries/s a · b |",
    "|---|---|---|---|---:|---:|---:|",
  ];
  const targets: string[] = [];
  for (const p of PAIRS.filter((p) => runtimes.includes(p.runtime))) {
    const rs = got.filter((r) => key(r) === key(p));
    if (rs.length === 0) continue;
    const per = rs.map((r) => r.ratio as number);
    const lo = Math.min(...rs.map((r) => r.ratioMin as number));
    const hi = Math.max(...rs.map((r) => r.ratioMax as number));
    const qa = median(rs.map((r) => r.qpsA as number));
    const qb = median(rs.map((r) => r.qpsB as number));
    lines.push(
      `| ${p.runtime} | ${p.shape} c=${p.c} | ${p.a} | ${p.b} | ${f2(median(per))} [${
        f2(Math.min(...per))
      }–${f2(Math.max(...per))}] | ${f2(lo)}–${f2(hi)} | ${Math.round(qa)} · ${Math.round(qb)} |`,
    );
    targets.push(
      `- ${p.runtime}, ${p.shape} c=${p.c}, paired in one process: ${p.what}: ${p.a} vs ${p.b}: ${
        judge(per, p.need, "higher").text
      }`,
    );
  }
  return { md: lines.join("\n"), targets };
}
