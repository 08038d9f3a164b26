/**
 * Cost per lease of a `type: "threaded"` pool against a non-threaded one, on
 * the instant fake driver (no database): lease → one query → release in
 * closed loops.
 *
 * - one isolate: the same pool (10 connections, 10 callers) threaded and not;
 * - 4 Workers: each with its own non-threaded pool of 3 (the static split of
 *   12), against the 4 sharing one threaded pool of 12; 8 callers per Worker,
 *   so every Worker always has callers queued and slots move between Workers.
 *
 * Prints ns per lease (wall time ÷ leases; for the Workers, 1 ÷ their summed
 * leases per ns, each over its own measured window after a warm-up) and the
 * threaded ÷ non-threaded ratios. Run:
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/threaded.ts
 * node_modules/.bin/bun bench/threaded.ts
 * ```
 *
 * @module
 */
import { createPool } from "../mod.ts";
import { instantDriver, runtime } from "./lib.ts";
import { loops } from "./threaded_worker.ts";

const MS = 2000;
const REPEATS = 3;

async function oneIsolate(type: "threaded" | "non-threaded"): Promise<number> {
  const pool = createPool({
    type,
    db: { host: "bench" },
    groups: { default: { connection_count: 10 } },
    driver: instantDriver(),
  });
  await loops(pool, 10, 200);
  const start = performance.now();
  const leases = await loops(pool, 10, MS);
  const ns = (performance.now() - start) * 1e6 / leases;
  await pool.end();
  return ns;
}

async function fourWorkers(threaded: boolean): Promise<number> {
  const shared = threaded
    ? createPool({
      type: "threaded",
      db: { host: "bench" },
      groups: { default: { connection_count: 12 } },
      driver: instantDriver(),
    })
    : undefined;
  const url = new URL("./threaded_worker.ts", import.meta.url).href;
  const workers = Array.from({ length: 4 }, () => new Worker(url, { type: "module" }));
  const results = await Promise.all(
    workers.map((w) =>
      new Promise<{ leases: number; ms: number }>((resolve, reject) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => reject(e);
        w.postMessage({ handle: shared?.share(), size: 3, callers: 8, ms: MS });
      })
    ),
  );
  for (const w of workers) w.terminate();
  await shared?.end();
  // The Workers' measured windows overlap: leases per ms add up.
  const perMs = results.reduce((sum, r) => sum + r.leases / r.ms, 0);
  return 1e6 / perMs;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(run: () => Promise<number>): Promise<number> {
  const all: number[] = [];
  for (let i = 0; i < REPEATS; i++) all.push(await run());
  return median(all);
}

const rows: [string, number, number][] = [];
rows.push([
  "one isolate, 10 conns, 10 callers",
  await measure(() => oneIsolate("non-threaded")),
  await measure(() => oneIsolate("threaded")),
]);
rows.push([
  "4 Workers, 12 conns, 8 callers each",
  await measure(() => fourWorkers(false)),
  await measure(() => fourWorkers(true)),
]);
console.log(`${runtime}: ns per lease (median of ${REPEATS} runs of ${MS} ms)`);
console.log("scenario | non-threaded | threaded | ratio");
for (const [name, plain, threaded] of rows) {
  console.log(
    `${name} | ${plain.toFixed(0)} | ${threaded.toFixed(0)} | ${(threaded / plain).toFixed(2)}`,
  );
}
