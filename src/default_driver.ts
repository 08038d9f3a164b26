/**
 * The driver used when the config names none: Bun.SQL on Bun, postgres.js
 * elsewhere. Loaded on first connect, so importing the pool loads no driver.
 *
 * @module
 */
import type { ConnectParams, Driver, DriverConnection } from "./driver.ts";

/**
 * A driver that picks and loads the runtime's default on first use.
 *
 * @returns The lazy driver.
 */
export function defaultDriver(): Driver {
  let loaded: Promise<Driver> | undefined;
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
  return {
    name: isBun ? "bun-sql" : "postgresjs",
    async connect(params: ConnectParams): Promise<DriverConnection> {
      loaded ??= isBun
        ? import("./drivers/bun_sql/mod.ts").then((m) => m.bunSql())
        : import("./drivers/postgresjs/mod.ts").then((m) => m.postgresjs());
      return (await loaded).connect(params);
    },
  };
}
