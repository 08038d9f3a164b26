/**
 * A pipelined group's pick in groups with roles, on a real primary and hot
 * standby: load spread over the sessions of each role, standby backends
 * killed mid-burst, and a promotion while the sessions are in use.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, type PoolConfigInput, PoolError } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { adminQuery } from "../support/servers.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";
import { appName, backendPids, until, warm } from "../support/backend_probe.ts";
import { burst, countBy } from "../support/caller_burst.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APP = appName("atk_pick_roles");
const SQL = "SELECT pg_is_in_recovery() AS rec, pg_backend_pid() AS pid";

interface Row {
  rec: boolean;
  pid: number;
}

describe("pipelined pick with roles (primary and standby)", () => {
  let pair: StandbyPair;
  let pool: Pool;

  /** Two pipelined groups of 2, one per role, on the pair. */
  const rolePool = (extra: Partial<PoolConfigInput> = {}) =>
    createPool({
      db: pair.endpoints({
        primary: { application_name: APP },
        standby: { application_name: APP },
      }),
      groups: {
        r: { connection_count: 2, pipeline: true, target_session_attrs: "standby" },
        w: { connection_count: 2, pipeline: true, target_session_attrs: "primary" },
      },
      driver: postgresjs(),
      ...extra,
    });

  before(async () => {
    pair = await startStandbyPair();
    pool = rolePool({
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
    const pool = rolePool();
    try {
      await warm(pool, 2, "r");
      await warm(pool, 2, "w");
      const [r, w] = await Promise.all([
        burst<Row>(pool, 400, SQL, "r").done,
        burst<Row>(pool, 400, SQL, "w").done,
      ]);
      assert.deepEqual([...r.errors, ...w.errors].map(String), []);
      assert.ok(r.rows.every((x) => x.rec === true));
      assert.ok(w.rows.every((x) => x.rec === false));
      for (const { rows } of [r, w]) {
        const per = countBy(rows.map((x) => x.pid));
        assert.equal(per.size, 2, `sessions used: ${[...per.values()].join(", ")}`);
        for (const c of per.values()) assert.ok(c >= 150, `per session: ${[...per.values()]}`);
      }
    } finally {
      await pool.end();
    }
  });

  it("standby backends killed mid-burst: callers settle typed, the next burst stays on the standby", () =>
    withoutEscapes(async () => {
      await warm(pool, 2, "r");
      const victims = await backendPids(pair.standby, APP);
      // 20 queries of 20 ms queued on each session: the kill lands while they run.
      const hit = burst<Row>(pool, 40, `${SQL}, pg_sleep(0.02)`, "r");
      await sleep(50);
      await adminQuery(
        pair.standby,
        "SELECT pg_terminate_backend(pid::int) FROM unnest(string_to_array($1, ',')) pid",
        [victims.join(",")],
      );
      await hit.done;
      assert.equal(hit.errors.length + hit.rows.length, 40);
      assert.ok(hit.errors.length > 0, "no caller saw its session die");
      for (const e of hit.errors) assert.ok(e instanceof PoolError, String(e));
      assert.ok(hit.rows.every((x) => x.rec === true));
      // Once the client has seen the sessions die (a session killed a moment ago
      // looks alive until its socket says otherwise), the next burst runs on new ones.
      await until(
        "the killed standby backends gone",
        async () => !(await backendPids(pair.standby, APP)).some((p) => victims.includes(p)),
        { withinMs: 3000 },
      );
      await sleep(100);
      const next = await burst<Row>(pool, 100, SQL, "r").done;
      assert.deepEqual(next.errors.map(String), []);
      assert.ok(next.rows.every((x) => x.rec === true));
    }));

  it("after a promotion, no standby-group caller runs on the promoted server", () =>
    withoutEscapes(async () => {
      await warm(pool, 2, "r");
      await pair.primary.stop();
      await pair.standby.promote();
      await sleep(20);
      const wrong: number[] = [];
      for (let i = 0; i < 5; i++) {
        const b = await burst<Row>(pool, 20, SQL, "r").done;
        for (const e of b.errors) assert.ok(e instanceof PoolError, String(e));
        for (const x of b.rows) if (x.rec === false) wrong.push(x.pid);
      }
      assert.deepEqual(
        wrong,
        [],
        `callers ran on the promoted server (sessions ${[...new Set(wrong)]})`,
      );
    }));
});
