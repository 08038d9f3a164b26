/**
 * The driver used when the config names none: Bun.SQL on Bun, postgres.js
 * elsewhere. Loaded on first connect, so importing the pool loads no driver;
 * a failed load is tried again by the next connect.
 *
 * @module
 */
import type { ConnectParams, Driver, DriverConnection } from "./driver.ts";
import { lazyLoader } from "./drivers/shared/lazy.ts";

/**
 * A driver that picks and loads the runtime's default on first use.
 *
 * @returns The lazy driver.
 */
export function defaultDriver(): Driver {
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
  const load = lazyLoader<Driver>(() =>
    isBun
      ? import("./drivers/bun_sql/mod.ts").then((m) => m.bunSql())
      : import("./drivers/postgresjs/mod.ts").then((m) => m.postgresjs())
  );
  return {
    name: isBun ? "bun-sql" : "postgresjs",
    async connect(params: ConnectParams): Promise<DriverConnection> {
      return (await load()).connect(params);
    },
  };
}
