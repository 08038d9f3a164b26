/**
 * The drivers an integration test runs over on this runtime: postgres.js and
 * node-postgres everywhere, Bun.SQL under Bun only, and deno-postgres under
 * Deno when `PGDBPOOL_DENO_POSTGRES` names a local copy (see deno_postgres.ts).
 *
 * @module
 */
import type { Driver } from "../../src/driver.ts";
import { postgresjs, type PostgresjsOptions } from "../../src/drivers/postgresjs/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { denoPostgres } from "../../src/drivers/deno_postgres/mod.ts";
import { loadClient, whyDenoPostgresSkips } from "./deno_postgres.ts";

/** True under Bun. */
export const onBun: boolean = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** One driver to run a test over: its name in the test titles, and a factory. */
export interface DriverCase {
  /** `postgresjs`, `node-postgres`, `bun-sql` or `deno-postgres`. */
  name: string;
  /** A fresh driver. */
  make: () => Driver;
}

/** Which drivers {@linkcode runtimeDrivers} lists, where a test needs fewer or other options. */
export interface DriverChoice {
  /** Options of every `postgresjs()` (default none). */
  postgresjs?: PostgresjsOptions;
  /** List node-postgres (default true). */
  nodePostgres?: boolean;
  /** List Bun.SQL under Bun (default true). */
  bunSql?: boolean;
}

/**
 * postgres.js, node-postgres, and Bun.SQL under Bun, in that order.
 *
 * @example Each driver's own describe
 * ```ts ignore
 * for (const { name, make } of runtimeDrivers()) {
 *   describe(`the pool over ${name}`, () => {});
 * }
 * ```
 */
export function runtimeDrivers(choice: DriverChoice = {}): DriverCase[] {
  const { nodePostgres: withNodePostgres = true, bunSql: withBunSql = true } = choice;
  return [
    { name: "postgresjs", make: () => postgresjs(choice.postgresjs) },
    ...(withNodePostgres ? [{ name: "node-postgres", make: () => nodePostgres() }] : []),
    ...(onBun && withBunSql ? [{ name: "bun-sql", make: () => bunSql() }] : []),
  ];
}

/**
 * `drivers` and, under Deno with a local copy named by `PGDBPOOL_DENO_POSTGRES`,
 * deno-postgres last.
 *
 * @example Every driver this runtime has
 * ```ts ignore
 * const drivers = await withDenoPostgres(runtimeDrivers());
 * ```
 */
export async function withDenoPostgres(drivers: DriverCase[]): Promise<DriverCase[]> {
  if (whyDenoPostgresSkips() !== undefined) return drivers;
  const Client = await loadClient();
  return [...drivers, { name: "deno-postgres", make: () => denoPostgres({ Client }) }];
}
