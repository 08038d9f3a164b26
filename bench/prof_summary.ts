/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof` or Bun's
 * inspector): self and total time per function, top N, as markdown.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/prof_summary.ts prof/CPU.*.cpuprofile [--top=25] [--filter=src/]
 * ```
 *
 * @module
 */
import fs from "node:fs";
import { parseArgs, scriptArgs } from "./lib.ts";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const argv = scriptArgs();
const args = parseArgs(argv);
const files = argv.filter((a) => !a.startsWith("--"));
const top = Number(args.top ?? 25);

for (const file of files) {
  const p: Profile = JSON.parse(fs.readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: Node) => {
    const url = n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, "$1/");
    return `${n.callFrame.functionName || "(anonymous)"} ${url}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    all += dt;
    let n = byId.get(p.samples[i]);
    if (!n) continue;
    const l = label(n);
    self.set(l, (self.get(l) ?? 0) + dt);
    const seen = new Set<string>();
    while (n) {
      const k = label(n);
      if (!seen.has(k)) {
        seen.add(k);
        total.set(k, (total.get(k) ?? 0) + dt);
      }
      const up = parent.get(n.id);
      n = up === undefined ? undefined : byId.get(up);
    }
  }
  const pct = (v: number) => ((100 * v) / all).toFixed(1).padStart(5);
  const filt = (k: string) => !args.filter || k.includes(args.filter);
  console.log(`\n## ${file} (${(all / 1000).toFixed(0)} ms sampled)\n\n### self\n`);
  for (
    const [k, v] of [...self].filter(([k]) => filt(k)).sort((a, b) => b[1] - a[1]).slice(0, top)
  ) {
    console.log(`${pct(v)}%  ${k}`);
  }
  console.log(`\n### total (inclusive)\n`);
  for (
    const [k, v] of [...total].filter(([k]) => filt(k)).sort((a, b) => b[1] - a[1]).slice(0, top)
  ) {
    console.log(`${pct(v)}%  ${k}`);
  }
}
