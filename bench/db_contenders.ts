/**
 * The contenders of the database benchmark: each prepares one pool (or
 * driver) over a PostgreSQL server and gives one query of a shape as `op`.
 * Used by `bench/worker_db.ts` (one contender per process) and
 * `bench/worker_db_paired.ts` (two, in alternating slices).
 *
 * @module
 */
import { runtime } from "./lib.ts";

/** What a contender gives the loop. */
export interface Prepared {
  /** One query of the shape; resolves to the first column of the first row. */
  op(): Promise<unknown>;
  close(): Promise<void>;
}

export interface Shape {
  text: string;
  params: unknown[] | undefined;
  expect: number;
  name: string;
}

export const SHAPES: Record<string, Shape> = {
  select1: { text: "SELECT 1", params: undefined, expect: 1, name: "bench_select1" },
  param: { text: "SELECT $1::int", params: [42], expect: 42, name: "bench_param" },
};

export interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  url: string;
}

export function parseUrl(url: string): Target {
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username),
    url,
  };
}

export class Unavailable extends Error {}

const first = (row: Record<string, unknown> | undefined) =>
  row === undefined ? undefined : Object.values(row)[0];

// deno-lint-ignore no-explicit-any
type Any = any;

async function pgdbpool(
  t: Target,
  size: number,
  shape: Shape,
  driverName: string,
  pipeline: boolean,
): Promise<Prepared> {
  const { createPool } = await import("../src/pool.ts");
  let driver;
  try {
    if (driverName === "postgresjs") {
      const m = await import("../src/drivers/postgresjs/mod.ts");
      driver = m.postgresjs({ prepare: true });
    } else if (driverName === "bunsql") {
      if (runtime !== "bun") throw new Unavailable("Bun.SQL runs on Bun only");
      const m = await import("../src/drivers/bun_sql/mod.ts" as string);
      driver = m.bunSql({ prepare: true });
    } else if (driverName === "nodepg") {
      const m = await import("../src/drivers/node_postgres/mod.ts" as string);
      driver = m.nodePostgres({ prepare: true });
    } else throw new Error(`unknown driver ${driverName}`);
  } catch (err) {
    if (err instanceof Unavailable) throw err;
    throw new Unavailable(`driver ${driverName} not loadable: ${(err as Error).message}`);
  }
  const group: Record<string, unknown> = { connection_count: size };
  if (pipeline) group.pipeline = true;
  let pool;
  try {
    pool = createPool({ db: t.url, groups: { default: group }, driver });
  } catch (err) {
    if (pipeline) {
      throw new Unavailable(`pipelined groups not supported: ${(err as Error).message}`);
    }
    throw err;
  }
  const { text, params } = shape;
  return {
    op: () =>
      pool.withHandler("default", async (db) => first((await db.query(text, params)).rows[0])),
    close: () => pool.end(),
  };
}

export const contenders: Record<
  string,
  (t: Target, size: number, shape: Shape) => Promise<Prepared>
> = {
  // pg's pg.Pool as users run it: simple protocol without parameters, unnamed statements with.
  async pg(t, size, shape) {
    const pg = (await import("pg")).default as Any;
    const pool = new pg.Pool({ ...conn(t), max: size });
    const { text, params } = shape;
    return {
      op: async () => first((await pool.query(text, params)).rows[0]),
      close: () => pool.end(),
    };
  },
  // pg.Pool with named prepared statements.
  async "pg-named"(t, size, shape) {
    const pg = (await import("pg")).default as Any;
    const pool = new pg.Pool({ ...conn(t), max: size });
    const q = { name: shape.name, text: shape.text, values: shape.params };
    return {
      op: async () => first((await pool.query(q)).rows[0]),
      close: () => pool.end(),
    };
  },
  // postgres.js's implicit pool, tagged templates (named prepared statements, its default).
  async postgresjs(t, size, shape) {
    const sql = await postgresjsPool(t, size);
    const run = shape.params ? () => sql`SELECT ${42}::int` : () => sql`SELECT 1`;
    return { op: async () => first((await run())[0]), close: () => sql.end({ timeout: 1 }) };
  },
  // postgres.js, one reserved connection per call.
  async "postgresjs-reserve"(t, size, shape) {
    const sql = await postgresjsPool(t, size);
    const withParam = shape.params !== undefined;
    return {
      op: async () => {
        const r = await sql.reserve();
        try {
          return first((await (withParam ? r`SELECT ${42}::int` : r`SELECT 1`))[0]);
        } finally {
          r.release();
        }
      },
      close: () => sql.end({ timeout: 1 }),
    };
  },
  // Bun's SQL pool, tagged templates (named prepared statements).
  bunsql(t, size, shape) {
    if (runtime !== "bun") return Promise.reject(new Unavailable("Bun.SQL runs on Bun only"));
    const B = (globalThis as Any).Bun;
    const sql = new B.SQL({
      hostname: t.host,
      port: t.port,
      username: t.user,
      password: t.password,
      database: t.database,
      max: size,
    });
    const run = shape.params ? () => sql`SELECT ${42}::int` : () => sql`SELECT 1`;
    return Promise.resolve({
      op: async () => first((await run())[0]),
      close: () => sql.close({ timeout: 1 }),
    });
  },
  "pgdbpool-postgresjs": (t, size, shape) => pgdbpool(t, size, shape, "postgresjs", false),
  "pgdbpool-bunsql": (t, size, shape) => pgdbpool(t, size, shape, "bunsql", false),
  "pgdbpool-nodepg": (t, size, shape) => pgdbpool(t, size, shape, "nodepg", false),
  "pgdbpool-postgresjs-pipe": (t, size, shape) => pgdbpool(t, size, shape, "postgresjs", true),
  "pgdbpool-bunsql-pipe": (t, size, shape) => pgdbpool(t, size, shape, "bunsql", true),
  "pgdbpool-nodepg-pipe": (t, size, shape) => pgdbpool(t, size, shape, "nodepg", true),
};

function conn(t: Target) {
  return { host: t.host, port: t.port, user: t.user, password: t.password, database: t.database };
}

async function postgresjsPool(t: Target, size: number): Promise<Any> {
  const postgres = (await import("postgres")).default as Any;
  return postgres({ ...conn(t), max: size, onnotice: () => {} });
}
