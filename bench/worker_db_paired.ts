/**
 * Two contenders against a real PostgreSQL in this one process, in
 * alternating slices: both pools are prepared and warmed, then each slice
 * pair runs `a` for `--slice` ms, then `b` (the order swapped every pair),
 * each a closed loop of `c` callers that is drained before the other starts.
 * The ratio of each pair's queries/s (a / b) is taken at nearly the same
 * moment, so the machine's load moves it far less than two fresh processes'
 * figures; the median over the pairs is reported. `bench/run.ts` runs it;
 * by hand:
 *
 * ```sh
 * node_modules/.bin/bun bench/worker_db_paired.ts --a=pgdbpool-bunsql-pipe --b=bunsql \
 *   --shape=select1 --c=64 --url=postgres://… --slices=12 --slice=250
 * ```
 *
 * Writes one JSON object (to `--out`, else stdout): the median ratio, its min and max over the pairs,
 * and each contender's median queries/s; `{ unavailable }` when a contender
 * cannot run here.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import { median, parseArgs, runtime, scriptArgs } from "./lib.ts";
import { contenders, parseUrl, type Prepared, SHAPES, Unavailable } from "./db_contenders.ts";

/** Queries/s of `c` callers running `op` back to back for `ms`; drained before it returns. */
async function slice(op: () => Promise<unknown>, c: number, ms: number): Promise<number> {
  let stop = false;
  let done = 0;
  const loop = async () => {
    while (!stop) {
      await op();
      done++;
    }
  };
  const t0 = performance.now();
  const loops = Promise.all(Array.from({ length: c }, loop));
  // A rejected op ends the slice at once, with its error.
  await Promise.race([loops, new Promise((resolve) => setTimeout(resolve, ms))]);
  stop = true;
  const counted = done;
  const t1 = performance.now();
  await loops;
  return counted / ((t1 - t0) / 1000);
}

async function prepare(id: string, url: string, size: number, shape: string): Promise<Prepared> {
  const make = contenders[id];
  if (!make) throw new Error(`unknown contender ${id}: one of ${Object.keys(contenders)}`);
  const s = SHAPES[shape];
  if (!s) throw new Error(`unknown shape ${shape}`);
  const p = await make(parseUrl(url), size, s);
  const got = await p.op();
  if (Number(got) !== s.expect) {
    throw new Error(`${id}: wrong answer ${JSON.stringify(got)}, expected ${s.expect}`);
  }
  return p;
}

async function main(): Promise<Record<string, unknown>> {
  const args = parseArgs(scriptArgs());
  const shape = args.shape ?? "select1";
  const c = Number(args.c ?? 16);
  const size = Number(args.size ?? 10);
  const slices = Number(args.slices ?? 12);
  const sliceMs = Number(args.slice ?? 250);
  const base = { kind: "db-paired", runtime, a: args.a, b: args.b, shape, c, size };
  const opened: Prepared[] = [];
  try {
    const a = await prepare(args.a, args.url, size, shape);
    opened.push(a);
    const b = await prepare(args.b, args.url, size, shape);
    opened.push(b);
    // Warm both at the measured concurrency (connections opened, code optimised).
    await slice(a.op, c, Number(args.warm ?? 500));
    await slice(b.op, c, Number(args.warm ?? 500));
    const ratios: number[] = [];
    const qa: number[] = [];
    const qb: number[] = [];
    for (let i = 0; i < slices; i++) {
      let x: number, y: number;
      if (i % 2 === 0) {
        x = await slice(a.op, c, sliceMs);
        y = await slice(b.op, c, sliceMs);
      } else {
        y = await slice(b.op, c, sliceMs);
        x = await slice(a.op, c, sliceMs);
      }
      qa.push(x);
      qb.push(y);
      ratios.push(x / y);
    }
    return {
      ...base,
      slices,
      sliceMs,
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      qpsA: median(qa),
      qpsB: median(qb),
    };
  } catch (err) {
    return err instanceof Unavailable
      ? { ...base, unavailable: err.message }
      : { ...base, error: String((err as Error)?.stack ?? err) };
  } finally {
    for (const p of opened) {
      await Promise.race([p.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    }
  }
}

const line = JSON.stringify(await main()) + "\n";
const out = parseArgs(scriptArgs()).out;
if (out) fs.writeFileSync(out, line);
else process.stdout.write(line);
process.exit(0);
