/**
 * Where the import of `mod.ts` goes, layer by layer: each run is a fresh
 * process that imports one entry module per layer in turn (bottom layer
 * first), so each step costs the modules that layer adds; the CPU time of
 * each step comes from `process.cpuUsage()`. Prints the median and min–max of
 * every step over the runs, with the modules and kilobytes each step adds.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cold_layers.ts --runs=9
 * node_modules/.bin/bun bench/cold_layers.ts --runs=9
 * ```
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import process from "node:process";
import { median, parseArgs, runtime, scriptArgs } from "./lib.ts";

// One entry per layer, bottom first; `mod.ts` last.
const LAYERS = [
  "src/errors.ts",
  "src/core/resource_pool.ts",
  "src/config/normalize.ts",
  "src/endpoints/endpoint_set.ts",
  "src/sql/read_sql.ts",
  "src/handler/run_once.ts",
  "src/groups/build.ts",
  "src/threaded/threaded_part.ts",
  "src/pool_parts.ts",
  "src/pool.ts",
  "mod.ts",
];

const root = new URL("../", import.meta.url);

/** In the child: imports every layer in turn; prints `[cpuMs, …]` and the module URLs it added. */
async function child(): Promise<void> {
  const cpu = () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  // A first dynamic import of a small module: the loader's own start-up stays out of the first layer.
  await import("./verdict.ts");
  const steps: number[] = [];
  for (const layer of LAYERS) {
    const c0 = cpu();
    await import(new URL(layer, root).href);
    steps.push(cpu() - c0);
  }
  process.stdout.write(JSON.stringify(steps) + "\n");
}

/** Modules and kilobytes each layer adds to those below it (Deno's module graph). */
function added(): string[] {
  const seen = new Set<string>();
  return LAYERS.map((layer) => {
    const info = JSON.parse(
      execFileSync("node_modules/.bin/deno", ["info", "--json", layer], {
        cwd: new URL(root).pathname,
        encoding: "utf8",
      }),
    );
    const bySpec = new Map<string, { size?: number; dependencies?: unknown[] }>(
      info.modules.map((m: { specifier: string }) => [m.specifier, m]),
    );
    // Runtime imports only: a type-only import loads nothing.
    const stack = [...info.roots];
    let count = 0;
    let bytes = 0;
    while (stack.length) {
      const spec = stack.pop();
      if (seen.has(spec) || !spec.startsWith("file:")) continue;
      seen.add(spec);
      count++;
      const m = bySpec.get(spec);
      bytes += m?.size ?? 0;
      for (
        const d of (m?.dependencies ?? []) as {
          code?: { specifier: string };
          isDynamic?: boolean;
        }[]
      ) {
        if (d.code?.specifier && !d.isDynamic) stack.push(d.code.specifier);
      }
    }
    return `${count} modules, ${(bytes / 1024).toFixed(0)} KB`;
  });
}

async function main(): Promise<void> {
  const args = parseArgs(scriptArgs());
  if (args.child) return await child();
  const runs = Number(args.runs ?? 9);
  const exe = process.execPath;
  const script = new URL(import.meta.url).pathname;
  const argv = runtime === "deno" ? ["run", "-A", script, "--child=1"] : [script, "--child=1"];
  execFileSync(exe, argv); // one unmeasured run: module caches warm, as on a deployed isolate
  const rows: number[][] = [];
  for (let i = 0; i < runs; i++) {
    rows.push(JSON.parse(execFileSync(exe, argv, { encoding: "utf8" }).trim()));
  }
  const sizes = added();
  console.log(
    `| layer (entry) | adds | import CPU ms on ${runtime}, median [min–max] of ${runs} |`,
  );
  console.log("|---|---|---:|");
  let total: number[] = new Array(runs).fill(0);
  LAYERS.forEach((layer, i) => {
    const v = rows.map((r) => r[i]);
    total = total.map((t, k) => t + v[k]);
    console.log(`| ${layer} | ${sizes[i]} | ${span(v)} |`);
  });
  console.log(`| all of mod.ts | | ${span(total)} |`);
}

function span(v: number[]): string {
  return `${median(v).toFixed(1)} [${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)}]`;
}

await main();
