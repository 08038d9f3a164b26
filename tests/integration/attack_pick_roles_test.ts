/**
 * A pipelined group's pick in groups with roles, on a real primary and hot
 * standby: load spread over the sessions of each role, standby backends
 * killed mid-burst, and a promotion while the sessions are in use.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, PoolError } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { adminQuery } from "../support/servers.ts";
import { watchEscapes } from "../support/escapes.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APP = `atk_pick_roles_${Date.now() % 100000}`;
const SQL = "SELECT pg_is_in_recovery() AS rec, pg_backend_pid() AS pid";

interface Row {
  rec: boolean;
  pid: number;
}

async function burst(
  pool: Pool,
  group: string,
  n: number,
  during?: () => Promise<unknown>,
  sql = SQL,
) {
  const errors: unknown[] = [];
  const rows: Row[] = [];
  const all = Array.from({ length: n }, () =>
    pool.query<Row>(sql, [], { group }).then(
      (r) => void rows.push(r.rows[0]),
      (err: unknown) => void errors.push(err),
    ));
  await during?.();
  await Promise.all(all);
  return { errors, rows };
}

async function warm(pool: Pool, group: string, size: number): Promise<void> {
  const deadline = Date.now() + 4000;
  while (Date.now() < deadline) {
    await Promise.all(
      Array.from({ length: 2 * size }, () => pool.query("SELECT pg_sleep(0.01)", [], { group })),
    );
    const g = pool.stats().groups[group];
    if (g.total === size && g.pending === 0) return;
  }
  assert.fail(`${group}: ${size} sessions never opened`);
}

describe("pipelined pick with roles (primary and standby)", () => {
  let pair: StandbyPair;
  let pool: Pool;

  before(async () => {
    pair = await startStandbyPair();
    pool = createPool({
      db: pair.endpoints({
        primary: { application_name: APP },
        standby: { application_name: APP },
      }),
      groups: {
        r: { connection_count: 2, pipeline: true, target_session_attrs: "standby" },
        w: { connection_count: 2, pipeline: true, target_session_attrs: "primary" },
      },
      driver: postgresjs(),
      // Every idle session is checked before it is handed out (configuration.md).
      pingAfterIdleMs: 0,
      reconnectBaseMs: 20,
      reconnectMaxMs: 100,
      acquireTimeoutMs: 2000,
    });
  });

  after(async () => {
    await pool?.end();
    await pair?.dispose();
  });

  // With the default ping window: sessions used a moment ago are shared unasked. (A burst that
  // finds every session idle past the window waits for their pings and shares the first to answer.)
  it("each role's callers stay on its server and spread over its sessions", async () => {
    const pool = createPool({
      db: pair.endpoints({
        primary: { application_name: APP },
        standby: { application_name: APP },
      }),
      groups: {
        r: { connection_count: 2, pipeline: true, target_session_attrs: "standby" },
        w: { connection_count: 2, pipeline: true, target_session_attrs: "primary" },
      },
      driver: postgresjs(),
    });
    try {
      await warm(pool, "r", 2);
      await warm(pool, "w", 2);
      const [r, w] = await Promise.all([burst(pool, "r", 400), burst(pool, "w", 400)]);
      assert.deepEqual([...r.errors, ...w.errors].map(String), []);
      assert.ok(r.rows.every((x) => x.rec === true));
      assert.ok(w.rows.every((x) => x.rec === false));
      for (const { rows } of [r, w]) {
        const per = new Map<number, number>();
        for (const x of rows) per.set(x.pid, (per.get(x.pid) ?? 0) + 1);
        assert.equal(per.size, 2, `sessions used: ${[...per.values()].join(", ")}`);
        for (const c of per.values()) assert.ok(c >= 150, `per session: ${[...per.values()]}`);
      }
    } finally {
      await pool.end();
    }
  });

  it("standby backends killed mid-burst: callers settle typed, the next burst stays on the standby", async () => {
    const escapes = watchEscapes();
    try {
      await warm(pool, "r", 2);
      const standbyPids = async () =>
        (await adminQuery(
          pair.standby,
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
          [APP],
        )).map((r) => Number(r.pid));
      const victims = await standbyPids();
      const kill = async () => {
        await sleep(50);
        await adminQuery(
          pair.standby,
          "SELECT pg_terminate_backend(pid::int) FROM unnest(string_to_array($1, ',')) pid",
          [
            victims.join(","),
          ],
        );
      };
      // 20 queries of 20 ms queued on each session: the kill lands while they run.
      const hit = await burst(pool, "r", 40, kill, `${SQL}, pg_sleep(0.02)`);
      assert.equal(hit.errors.length + hit.rows.length, 40);
      assert.ok(hit.errors.length > 0, "no caller saw its session die");
      for (const e of hit.errors) assert.ok(e instanceof PoolError, String(e));
      assert.ok(hit.rows.every((x) => x.rec === true));
      // Once the client has seen the sessions die (a session killed a moment ago
      // looks alive until its socket says otherwise), the next burst runs on new ones.
      const deadline = Date.now() + 3000;
      while ((await standbyPids()).some((p) => victims.includes(p)) && Date.now() < deadline) {
        await sleep(20);
      }
      await sleep(100);
      const next = await burst(pool, "r", 100);
      assert.deepEqual(next.errors.map(String), []);
      assert.ok(next.rows.every((x) => x.rec === true));
      assert.deepEqual(escapes.escaped, []);
    } finally {
      escapes.stop();
    }
  });

  it("after a promotion, no standby-group caller runs on the promoted server", async () => {
    const escapes = watchEscapes();
    try {
      await warm(pool, "r", 2);
      await pair.primary.stop();
      await pair.standby.promote();
      await sleep(20);
      const wrong: number[] = [];
      for (let i = 0; i < 5; i++) {
        const b = await burst(pool, "r", 20);
        for (const e of b.errors) assert.ok(e instanceof PoolError, String(e));
        for (const x of b.rows) if (x.rec === false) wrong.push(x.pid);
      }
      assert.deepEqual(
        wrong,
        [],
        `callers ran on the promoted server (sessions ${[...new Set(wrong)]})`,
      );
      assert.deepEqual(escapes.escaped, []);
    } finally {
      escapes.stop();
    }
  });
});
