/**
 * What the Python-path tests share: the drivers to run them with on this
 * runtime, and a fresh database per test file (the `"SQLPrepare"` schema's
 * name is fixed, so each file gets its own database to create it in).
 */
import type { Driver } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import {
  denoPostgres,
  type DenoPostgresClientConstructor,
} from "../../src/drivers/deno_postgres/mod.ts";
import { adminQuery, type TestServer } from "../support/servers.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/** Names a local copy of deno-postgres's `mod.ts` (see driver_deno_postgres_test.ts). */
export const DENO_POSTGRES = "PGDBPOOL_DENO_POSTGRES";

/**
 * Each driver that runs here, by name: postgres.js and node-postgres always,
 * Bun.SQL under Bun, deno-postgres under Deno when {@linkcode DENO_POSTGRES}
 * names a local copy.
 */
export async function runtimeDrivers(): Promise<[string, () => Driver][]> {
  const drivers: [string, () => Driver][] = [
    ["postgresjs", () => postgresjs()],
    ["node-postgres", () => nodePostgres()],
  ];
  if (isBun) drivers.push(["bun-sql", () => bunSql()]);
  const copy = isDeno ? Deno.env.get(DENO_POSTGRES) : undefined;
  if (copy) {
    const url = new URL(copy, `file://${Deno.cwd()}/`);
    const { Client } = await import(url.href) as { Client: DenoPostgresClientConstructor };
    drivers.push(["deno-postgres", () => denoPostgres({ Client })]);
  }
  return drivers;
}

/** Why deno-postgres is not among {@linkcode runtimeDrivers}, or `undefined` when it is. */
export function denoPostgresMissing(): string | undefined {
  if (isDeno && Deno.env.get(DENO_POSTGRES)) return undefined;
  return `deno-postgres runs on Deno only, from a local copy named by ${DENO_POSTGRES} (README: Testing the deno-postgres adapter)`;
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
  // Field by field: an embedded server's fields are getters, which a spread would drop.
  const inside: TestServer = {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: name,
    url: Object.assign(new URL(server.url), { pathname: `/${name}` }).href,
    restartable: false,
    stop: () => Promise.reject(new Error("this server cannot be stopped from here")),
    start: () => Promise.reject(new Error("this server cannot be started from here")),
  };
  if (setup) await adminQuery(inside, setup);
  return {
    server: inside,
    drop: async () => {
      await adminQuery(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
