/**
 * Overload against a real PostgreSQL, in this fresh process: `c` callers
 * (1,000 by default) in a closed loop over a pool of 10 connections, so
 * about 990 are always queued. Reports the wait for a connection (p50, p99,
 * max), how evenly the callers were served (the fewest and most queries one
 * caller got in the window: a starved caller gets none), queries/s, and the
 * heap: bytes per queued caller and growth over the window.
 *
 * ```sh
 * node_modules/.bin/deno run -A --v8-flags=--expose-gc bench/overload.ts --contender=pgdbpool-nodepg --url=postgres://…
 * ```
 *
 * Contenders: `pg` (pg.Pool: `connect()`, query, `release()`),
 * `pgdbpool-nodepg` (`withHandler` over the same node-postgres driver), and
 * `pgdbpool` (`withHandler` over the runtime's default driver).
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import {
  fullGc,
  heapUsed,
  initHeapProbe,
  parseArgs,
  quantile,
  runtime,
  scriptArgs,
} from "./lib.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** One query through the pool; calls `waited` once it holds a connection. */
type Op = (waited: () => void) => Promise<unknown>;

async function make(id: string, url: string, size: number): Promise<{ op: Op; end(): unknown }> {
  if (id === "pg") {
    const pg = (await import("pg")).default as Any;
    const pool = new pg.Pool({ connectionString: url, max: size });
    return {
      op: async (waited) => {
        const c = await pool.connect();
        waited();
        try {
          return await c.query("SELECT 1");
        } finally {
          c.release();
        }
      },
      end: () => pool.end(),
    };
  }
  const { createPool } = await import("../src/pool.ts");
  let driver;
  if (id === "pgdbpool-nodepg") {
    const m = await import("../src/drivers/node_postgres/mod.ts");
    driver = m.nodePostgres();
  } else if (id !== "pgdbpool") throw new Error(`unknown contender ${id}`);
  const pool = createPool({
    db: url,
    groups: { default: { connection_count: size } },
    driver,
    acquireTimeoutMs: 600_000,
  });
  return {
    op: (waited) =>
      pool.withHandler("default", (db) => {
        waited();
        return db.query("SELECT 1");
      }),
    end: () => pool.end(),
  };
}

async function main() {
  const args = parseArgs(scriptArgs());
  const id = args.contender ?? "pgdbpool";
  const c = Number(args.c ?? 1000);
  const size = Number(args.size ?? 10);
  const warmMs = Number(args.warm ?? 500);
  const measureMs = Number(args.measure ?? 2000);
  const base = { kind: "overload", runtime, contender: id, c, size };
  let out: Record<string, unknown>;
  try {
    await initHeapProbe();
    const p = await make(id, args.url, size);
    // Open the pool's connections first: the figures are about waiting, not connecting.
    await Promise.all(Array.from({ length: size }, () => p.op(() => {})));
    fullGc();
    const idleHeap = heapUsed();
    let measuring = false;
    let stop = false;
    const waits: number[] = [];
    const served = new Array<number>(c).fill(0);
    const loop = async (k: number) => {
      while (!stop) {
        const t0 = performance.now();
        await p.op(() => {
          if (measuring) waits.push(performance.now() - t0);
        });
        if (measuring) served[k]++;
      }
    };
    const loops = Array.from({ length: c }, (_, k) => loop(k));
    const failed = Promise.all(loops).then(() => {});
    const sleep = (ms: number) =>
      Promise.race([failed, new Promise<void>((r) => setTimeout(r, ms))]);
    await sleep(warmMs);
    fullGc();
    const heap0 = heapUsed();
    measuring = true;
    const t0 = performance.now();
    await sleep(measureMs);
    measuring = false;
    const t1 = performance.now();
    fullGc();
    const heap1 = heapUsed();
    stop = true;
    await failed;
    const sorted = Float64Array.from(waits).sort();
    const byCaller = Float64Array.from(served).sort();
    out = {
      ...base,
      qps: waits.length / ((t1 - t0) / 1000),
      waitP50Ms: quantile(sorted, 0.5),
      waitP99Ms: quantile(sorted, 0.99),
      waitMaxMs: sorted[sorted.length - 1],
      servedMin: byCaller[0],
      servedMedian: quantile(byCaller, 0.5),
      servedMax: byCaller[byCaller.length - 1],
      starved: served.filter((n) => n === 0).length,
      bytesPerWaiter: (heap0 - idleHeap) / (c - size),
      heapGrowth: heap1 - heap0,
    };
    await Promise.race([p.end(), new Promise((res) => setTimeout(res, 2000))]);
  } catch (err) {
    out = { ...base, error: String((err as Error)?.stack ?? err) };
  }
  const line = JSON.stringify(out) + "\n";
  if (args.out) fs.writeFileSync(args.out, line);
  else process.stdout.write(line);
}

await main();
process.exit(0);
