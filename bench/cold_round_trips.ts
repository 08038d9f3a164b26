/**
 * Round trips of a first query, counted on the wire: a TCP proxy on
 * 127.0.0.1 counts the client's flights (bytes from the client after bytes
 * from the server, or the first bytes) until the first result, for
 * postgres.js alone and for a fresh pool over the postgres.js adapter, with
 * and without the array types; on Bun, `Bun.SQL` alone and the pool over its
 * adapter too. No timing: the counts do not depend on the machine's load.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cold_round_trips.ts --url=postgres://…
 * node_modules/.bin/bun bench/cold_round_trips.ts --url=postgres://…
 * ```
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import postgres from "postgres";
import { createPool } from "../mod.ts";
import { postgresjs } from "../src/drivers/postgresjs/mod.ts";
import { bunSql } from "../src/drivers/bun_sql/mod.ts";
import { parseArgs, runtime, scriptArgs } from "./lib.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const url = new URL(parseArgs(scriptArgs()).url ?? process.env.DATABASE_URL ?? "");
let flights = 0;
const proxy = net.createServer((client) => {
  const server = net.connect(Number(url.port || 5432), url.hostname);
  let last: "client" | "server" | undefined;
  client.on("data", (d) => {
    if (last !== "client") flights++;
    last = "client";
    server.write(d);
  });
  server.on("data", (d) => {
    last = "server";
    client.write(d);
  });
  client.on("close", () => server.destroy());
  server.on("close", () => client.destroy());
  client.on("error", () => {});
  server.on("error", () => {});
});
await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
const through = new URL(url.href);
through.hostname = "127.0.0.1";
through.port = String((proxy.address() as net.AddressInfo).port);
const db = through.href;

async function count(name: string, first: () => Promise<() => unknown>): Promise<void> {
  flights = 0;
  const end = await first();
  console.log(`| ${name} | ${flights} |`);
  await end();
}

console.log("| first query | client flights (round trips) |\n|---|---:|");
for (const fetchTypes of [true, false]) {
  await count(`postgres.js alone, fetch_types ${fetchTypes ? "on" : "off"}`, async () => {
    const sql = (postgres as Any)(db, { max: 1, fetch_types: fetchTypes, onnotice: () => {} });
    await sql`SELECT 1`;
    return () => sql.end();
  });
  await count(
    `createPool() → first withHandler, postgresjs({ fetchTypes: ${fetchTypes} })`,
    async () => {
      const driver = postgresjs({ postgres: postgres as Any, fetchTypes });
      const pool = createPool({ db, driver, groups: { g: { connection_count: 10 } } });
      await pool.withHandler("g", (h) => h.query("SELECT 1"));
      return () => pool.end();
    },
  );
}
if (runtime === "bun") {
  await count("Bun.SQL alone", async () => {
    const sql = new (globalThis as Any).Bun.SQL({ url: db, max: 1 });
    await sql`SELECT 1`;
    return () => sql.close();
  });
  await count("createPool() → first withHandler, bunSql()", async () => {
    const pool = createPool({ db, driver: bunSql(), groups: { g: { connection_count: 10 } } });
    await pool.withHandler("g", (h) => h.query("SELECT 1"));
    return () => pool.end();
  });
}
proxy.close();
process.exit(0);
