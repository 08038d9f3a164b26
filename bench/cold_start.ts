/**
 * Cold start, in this fresh process: the time to import the code (timed
 * from the first line of this script, with a dynamic `import()`), then the
 * time from building the pool to the first query's result. `bench/run.ts`
 * runs it for both subjects, interleaved, a fresh process each; by hand:
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/cold_start.ts --subject=pgdbpool --url=postgres://…
 * node_modules/.bin/bun bench/cold_start.ts --subject=bare --url=postgres://…
 * ```
 *
 * Subjects: `bare`, the runtime's default driver alone (postgres.js on Deno
 * and Node, `Bun.SQL` on Bun, which is built in: nothing to import);
 * `pgdbpool`, `mod.ts` with no driver named (the default driver, which it
 * loads on first connect: that import counts in its first result); and
 * `pgdbpool-named`, `mod.ts` with the same driver named in the config and
 * imported up front with it (postgres.js and its adapter, or the Bun.SQL
 * adapter), so that its first result compares with the bare driver's on the
 * same footing: what the pool adds to a first query, the driver's load aside;
 * `pgdbpool-js`, as `pgdbpool` but from the JavaScript form that JSR's npm
 * compatibility layer serves to Bun and Node (one `.js` per module, built by
 * `bench/cold_js.ts`, which must have run first).
 *
 * @module
 */
const t0 = performance.now();
import fs from "node:fs";
import process from "node:process";
// CPU time too: on a shared machine it moves less than wall time.
const cpu0 = process.cpuUsage();
const cpuMs = () => {
  const c = process.cpuUsage(cpu0);
  return (c.user + c.system) / 1000;
};
import { parseArgs, runtime, scriptArgs } from "./lib.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

interface Cold {
  importMs: number;
  importCpuMs: number;
  firstMs: number;
  firstCpuMs: number;
  end(): unknown;
}

/** Times `first` after the import that `t0` and `cpu0` started timing. */
async function timeFirst(first: () => Promise<() => unknown>): Promise<Cold> {
  const t1 = performance.now();
  const c1 = cpuMs();
  const end = await first();
  return {
    importMs: t1 - t0,
    importCpuMs: c1,
    firstMs: performance.now() - t1,
    firstCpuMs: cpuMs() - c1,
    end,
  };
}

async function bare(url: string): Promise<Cold> {
  if (runtime === "bun") {
    return timeFirst(async () => {
      const sql = new (globalThis as Any).Bun.SQL({ url, max: 10 });
      await sql`SELECT 1`;
      return () => sql.close();
    });
  }
  const postgres = (await import("postgres")).default as Any;
  return timeFirst(async () => {
    const sql = postgres(url, { max: 10, onnotice: () => {} });
    await sql`SELECT 1`;
    return () => sql.end();
  });
}

async function pgdbpool(url: string): Promise<Cold> {
  const { createPool } = await import("../mod.ts");
  return timeFirst(async () => {
    const pool = createPool({ db: url, groups: { default: { connection_count: 10 } } });
    await pool.withHandler("default", (db) => db.query("SELECT 1"));
    return () => pool.end();
  });
}

// The JavaScript form JSR's npm layer serves to Bun and Node (bench/cold_js.ts builds it).
async function jsForm(url: string): Promise<Cold> {
  const { createPool } = await import(
    new URL("../.tmp/bench/cold_js/mod.js", import.meta.url).href
  );
  return timeFirst(async () => {
    const pool = createPool({ db: url, groups: { default: { connection_count: 10 } } });
    await pool.withHandler("default", (db: Any) => db.query("SELECT 1"));
    return () => pool.end();
  });
}

async function named(url: string): Promise<Cold> {
  const [{ createPool }, driver] = await Promise.all([
    import("../mod.ts"),
    runtime === "bun"
      ? import("../src/drivers/bun_sql/mod.ts").then((m) => m.bunSql())
      : Promise.all([import("postgres"), import("../src/drivers/postgresjs/mod.ts")])
        .then(([pg, m]) => m.postgresjs({ postgres: pg.default as Any })),
  ]);
  return timeFirst(async () => {
    const pool = createPool({ db: url, driver, groups: { default: { connection_count: 10 } } });
    await pool.withHandler("default", (db) => db.query("SELECT 1"));
    return () => pool.end();
  });
}

const SUBJECTS: Record<string, (url: string) => Promise<Cold>> = {
  bare,
  pgdbpool,
  "pgdbpool-named": named,
  "pgdbpool-js": jsForm,
};

async function main() {
  const args = parseArgs(scriptArgs());
  const subject = args.subject ?? "pgdbpool";
  let out: Record<string, unknown>;
  try {
    const run = SUBJECTS[subject];
    if (!run) throw new Error(`Unknown subject ${subject}: ${Object.keys(SUBJECTS).join(", ")}`);
    const r = await run(args.url);
    const { end: _, ...times } = r;
    out = { kind: "cold", runtime, subject, ...times };
    await Promise.race([r.end(), new Promise((res) => setTimeout(res, 1000))]);
  } catch (err) {
    out = { kind: "cold", runtime, subject, error: String((err as Error)?.stack ?? err) };
  }
  const line = JSON.stringify(out) + "\n";
  if (args.out) fs.writeFileSync(args.out, line);
  else process.stdout.write(line);
}

await main();
process.exit(0);
