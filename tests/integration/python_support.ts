/**
 * What the Python-path tests share: the drivers to run them with on this
 * runtime, and a fresh database per test file (the `"SQLPrepare"` schema's
 * name is fixed, so each file gets its own database to create it in).
 */
import type { Driver } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { adminQuery, type TestServer } from "../support/servers.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Each driver that runs on this runtime, by name (Bun.SQL under Bun only). */
export function runtimeDrivers(): [string, () => Driver][] {
  const drivers: [string, () => Driver][] = [
    ["postgresjs", () => postgresjs()],
    ["node-postgres", () => nodePostgres()],
  ];
  if (isBun) drivers.push(["bun-sql", () => bunSql()]);
  return drivers;
}

/**
 * Creates an empty database on `server` and runs `setup` in it.
 *
 * @returns The server, addressed at the new database, and a function that drops it.
 */
export async function freshDatabase(
  server: TestServer,
  prefix: string,
  setup?: string,
): Promise<{ server: TestServer; drop: () => Promise<void> }> {
  const name = `${prefix}_${isBun ? "bun" : "deno"}_${Date.now() % 1e8}_${
    Math.floor(Math.random() * 1e4)
  }`;
  await adminQuery(server, `CREATE DATABASE ${name}`);
  const inside = { ...server, database: name };
  if (setup) await adminQuery(inside, setup);
  return {
    server: inside,
    drop: async () => {
      await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
