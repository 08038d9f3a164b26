/**
 * One measurement against a real PostgreSQL: one contender, one query shape,
 * one closed-loop concurrency, in this fresh process. `bench/run.ts` starts it;
 * by hand:
 *
 * ```sh
 * node_modules/.bin/bun bench/worker_db.ts --contender=pg --shape=select1 --c=16 \
 *   --url=postgres://postgres:pw@127.0.0.1:5432/postgres --warm=1000 --measure=3000
 * ```
 *
 * Writes one JSON object (to `--out`, else stdout): queries/s, p50 and p99
 * latency (ms), client CPU µs per query (`process.cpuUsage()`, user + system,
 * over the measured window), or `{ unavailable }` when the contender cannot
 * run here.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import { cpuMicros, parseArgs, quantile, runtime, scriptArgs } from "./lib.ts";
import { contenders, parseUrl, SHAPES, Unavailable } from "./db_contenders.ts";

/** Closed loop: `c` callers, each running `op` back to back. */
async function closedLoop(
  op: () => Promise<unknown>,
  c: number,
  warmMs: number,
  measureMs: number,
) {
  let measuring = false;
  let stop = false;
  const lat: number[] = [];
  const loop = async () => {
    while (!stop) {
      const t0 = performance.now();
      await op();
      if (measuring) lat.push(performance.now() - t0);
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < c; i++) loops.push(loop());
  const failed = Promise.all(loops).then(() => {}); // surfaces an op's rejection
  const sleep = (ms: number) => Promise.race([failed, new Promise<void>((r) => setTimeout(r, ms))]);
  await sleep(warmMs);
  measuring = true;
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  await sleep(measureMs);
  measuring = false;
  const t1 = performance.now();
  const cpu1 = cpuMicros();
  const n = lat.length;
  stop = true;
  await failed;
  const sorted = Float64Array.from(lat).sort();
  return {
    queries: n,
    qps: n / ((t1 - t0) / 1000),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    cpuUsPerQuery: (cpu1 - cpu0) / n,
  };
}

async function main() {
  const args = parseArgs(scriptArgs());
  const id = args.contender;
  const shape = SHAPES[args.shape ?? "select1"];
  const c = Number(args.c ?? 16);
  const size = Number(args.size ?? 10);
  const base = { kind: "db", runtime, contender: id, shape: args.shape ?? "select1", c, size };
  let out: Record<string, unknown>;
  try {
    const make = contenders[id];
    if (!make) throw new Error(`unknown contender ${id}: one of ${Object.keys(contenders)}`);
    if (!shape) throw new Error(`unknown shape ${args.shape}`);
    const p = await make(parseUrl(args.url), size, shape);
    const got = await p.op();
    if (Number(got) !== shape.expect) {
      throw new Error(`wrong answer: ${JSON.stringify(got)}, expected ${shape.expect}`);
    }
    const r = await closedLoop(p.op, c, Number(args.warm ?? 1000), Number(args.measure ?? 3000));
    await Promise.race([p.close(), new Promise((res) => setTimeout(res, 2000))]);
    out = { ...base, ...r };
  } catch (err) {
    out = err instanceof Unavailable
      ? { ...base, unavailable: err.message }
      : { ...base, error: String((err as Error)?.stack ?? err) };
  }
  const line = JSON.stringify(out) + "\n";
  if (args.out) fs.writeFileSync(args.out, line);
  else process.stdout.write(line);
}

await main();
process.exit(0);
