/**
 * Rewrites the benchmark block of README.md (between `<!-- bench:start -->`
 * and `<!-- bench:end -->`) from the latest runs kept in `bench/results/`:
 * the quick run's raw lines (`latest.jsonl`) and its targets, and the full
 * run's when there is one. No figure in that block is typed by hand.
 *
 * ```sh
 * npm run bench -- --readme
 * node_modules/.bin/deno run -A bench/readme_table.ts
 * ```
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { median } from "./lib.ts";

type Row = Record<string, unknown>;

const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

const TABLE: [string, string][] = [
  ["pg", "pg.Pool"],
  ["postgresjs-reserve", "postgres.js `reserve()`"],
  ["bunsql", "Bun SQL pool (pipelines)"],
  ["pgdbpool-nodepg", "pgdbpool + nodePostgres"],
  ["pgdbpool-postgresjs", "pgdbpool + postgresjs"],
  ["pgdbpool-bunsql", "pgdbpool + bunSql"],
  ["pgdbpool-postgresjs-pipe", "pgdbpool + postgresjs, `pipeline`"],
  ["pgdbpool-bunsql-pipe", "pgdbpool + bunSql, `pipeline`"],
];

const fmt = (x: number, d = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d })
    : "–";

function readRows(file: string): Row[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** Median [min–max] of per-repetition ratios a/b. */
function ratio(a: Row[], b: Row[], field: string): string {
  const v = a.flatMap((x) => {
    const y = b.find((r) => r.rep === x.rep);
    return y ? [(x[field] as number) / (y[field] as number)] : [];
  }).filter(Number.isFinite);
  if (!v.length) return "–";
  const m = fmt(median(v), 2);
  return v.length === 1 ? m : `${m} [${fmt(Math.min(...v), 2)}–${fmt(Math.max(...v), 2)}]`;
}

function header(md: string, key: string): string {
  return md.match(new RegExp(`^- ${key}: (.*)$`, "m"))?.[1] ?? "–";
}

/** The block's markdown from one run's rows and report. */
function block(rows: Row[], md: string, file: string): string {
  const out: string[] = [];
  out.push(
    `From \`bench/results/${file}\` (${header(md, "Date").replace(/ \(took .*\)$/, "")}; ${
      header(md, "Command")
    }; ${
      header(md, "Runtimes")
    }; a shared machine: compare ratios within one run). \`SELECT 1\`, 64 callers, pool size 10; median [min–max] over repetitions:`,
  );
  out.push("");
  out.push("| runtime | contender | queries/s | × pg.Pool | p99 ms |");
  out.push("| ------- | --------- | --------: | --------: | -----: |");
  const db = rows.filter((r) => r.kind === "db" && !r.error && r.shape === "select1" && r.c === 64);
  for (const rt of ["deno", "bun", "node"]) {
    const pg = db.filter((r) => r.runtime === rt && r.contender === "pg");
    for (const [id, label] of TABLE) {
      const rs = db.filter((r) => r.runtime === rt && r.contender === id);
      if (!rs.length) continue;
      out.push(
        `| ${rt} | ${label} | ${fmt(median(rs.map((r) => r.qps as number)))} | ${
          id === "pg" ? "1" : ratio(rs, pg, "qps")
        } | ${fmt(median(rs.map((r) => r.p99Ms as number)), 2)} |`,
      );
    }
  }
  const core = rows.filter((r) => r.kind === "core" && !r.error);
  if (core.length) {
    out.push("");
    out.push(
      "Pool core, no database (lease → one awaited query on an instant fake driver → release):",
    );
    out.push("");
    out.push(
      "| runtime | scenario | reference pool ns | pgdbpool `withHandler` ns | × reference | × reference, one process |",
    );
    out.push("| --- | --- | ---: | ---: | ---: | ---: |");
    for (const rt of ["deno", "bun"]) {
      for (const sc of ["seq:10", "cont:64/10", "seq:1000", "cont:1010/10"]) {
        const pick = (s: string, scenario = sc) =>
          core.filter((r) => r.runtime === rt && r.subject === s && r.scenario === scenario);
        const ref = pick("reference");
        const mine = pick("pgdbpool");
        if (!ref.length || !mine.length) continue;
        const ns = (rs: Row[]) => fmt(median(rs.map((r) => r.nsPerLease as number)));
        // The same pair alternating in one process, which the machine's load moves far less.
        const paired = pick("pgdbpool", `paired-${sc}`).map((r) => r.ratioToReference as number);
        const one = paired.length
          ? `${fmt(median(paired), 2)} [${fmt(Math.min(...paired), 2)}–${
            fmt(Math.max(...paired), 2)
          }]`
          : "–";
        out.push(
          `| ${rt} | ${sc} | ${ns(ref)} | ${ns(mine)} | ${
            ratio(mine, ref, "nsPerLease")
          } | ${one} |`,
        );
      }
    }
  }
  const targets = md.split(/^## Targets.*$/m)[1]?.trim();
  if (targets) {
    out.push("");
    out.push("Targets, as that run judged them (met or missed only when every repetition agrees):");
    out.push("");
    out.push(targets);
  }
  return out.join("\n");
}

/** Markdown as `deno fmt` leaves it (tables aligned, prose wrapped at 100), so CI's check passes. */
function formatted(root: string, md: string): string {
  const file = path.join(root, ".tmp", "bench", "readme_block.md");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, md);
  const deno = path.join(root, "node_modules", ".bin", "deno");
  spawnSync(deno, ["fmt", "-q", "--line-width=100", file], { stdio: "ignore" });
  return fs.readFileSync(file, "utf8");
}

/**
 * Rewrites the marked block of `README.md` under `root`.
 *
 * @param root The repository root.
 * @returns Whether the block was found and written.
 */
export function writeReadmeTable(root: string): boolean {
  const results = path.join(root, "bench", "results");
  const parts: string[] = [];
  for (
    const [stem, title] of [["latest", "Latest quick run"], ["latest-full", "Latest full run"]]
  ) {
    const rows = readRows(path.join(results, `${stem}.jsonl`));
    const mdFile = path.join(results, `${stem}.md`);
    if (!rows.length || !fs.existsSync(mdFile)) continue;
    parts.push(`**${title}.** ${block(rows, fs.readFileSync(mdFile, "utf8"), `${stem}.md`)}`);
  }
  const readme = path.join(root, "README.md");
  const text = fs.readFileSync(readme, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a || parts.length === 0) {
    process.stderr.write(
      parts.length ? `README.md has no ${START} … ${END} block\n` : "no results in bench/results\n",
    );
    return false;
  }
  const body = formatted(
    root,
    `${START}\n\n<!-- generated by bench/readme_table.ts: do not edit by hand -->\n\n${
      parts.join("\n\n")
    }\n\n${END}\n`,
  ).trimEnd();
  fs.writeFileSync(readme, text.slice(0, a) + body + text.slice(b + END.length));
  return true;
}

if (import.meta.main) {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  process.exit(writeReadmeTable(root) ? 0 : 1);
}
