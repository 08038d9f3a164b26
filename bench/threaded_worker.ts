/**
 * Worker of `bench/threaded.ts`: builds a pool on the instant fake driver (a
 * threaded one from the handle it is sent, else its own non-threaded one),
 * warms it, then runs `callers` closed loops of lease → one query → release
 * for `ms`, and reports the leases done.
 *
 * @module
 */
import { createPool, type Pool } from "../mod.ts";
import { instantDriver } from "./lib.ts";

interface Job {
  handle?: unknown;
  size: number;
  callers: number;
  ms: number;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(m: unknown): void;
};

scope.onmessage = async (e) => {
  const { handle, size, callers, ms } = e.data;
  const driver = instantDriver();
  const pool: Pool = handle
    ? createPool(handle as Parameters<typeof createPool>[0], { driver })
    : createPool({
      db: { host: "bench" },
      groups: { default: { connection_count: size } },
      driver,
    });
  await loops(pool, callers, 200);
  const start = performance.now();
  const leases = await loops(pool, callers, ms);
  const elapsed = performance.now() - start;
  await pool.end();
  scope.postMessage({ leases, ms: elapsed });
};

/** Runs `callers` closed loops for `ms`; returns how many leases they made. */
export async function loops(pool: Pool, callers: number, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let leases = 0;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < until) {
      await pool.withHandler("default", (db) => db.query("SELECT 1"));
      leases++;
    }
  }));
  return leases;
}
