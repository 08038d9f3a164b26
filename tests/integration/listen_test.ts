/**
 * `pool.listen` against real PostgreSQL, per driver: a NOTIFY sent through
 * any group reaches the listener with its payload and the sender's pid;
 * unlisten stops it; the listen session lives outside the groups' budget,
 * comes back after a server restart, and `end()` closes it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPool,
  type Driver,
  ListenUnsupportedError,
  type NotifyInfo,
  type Pool,
  type PoolConfigInput,
} from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import {
  adminQuery,
  type PrivateTestServer,
  sharedServers,
  startPrivateServer,
  type TestServer,
} from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const runtime = globalThis as { Bun?: unknown };
const drivers = runtimeDrivers({ bunSql: false });

let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Received {
  payload: string;
  info: NotifyInfo;
}

/** Collects notifications; `next()` waits for one more (at most `ms`). */
function inbox() {
  const got: Received[] = [];
  let wake: (() => void) | undefined;
  return {
    got,
    onNotify: (payload: string, info: NotifyInfo) => {
      got.push({ payload, info });
      wake?.();
    },
    async until(n: number, ms = 5000): Promise<void> {
      const deadline = Date.now() + ms;
      while (got.length < n && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      assert.ok(got.length >= n, `got ${got.length} notifications, expected ${n}`);
    },
  };
}

for (const { name, make } of drivers) {
  describe(`pool.listen() over ${name} against real PostgreSQL`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    function makePool(
      groups: PoolConfigInput["groups"],
      on?: TestServer,
    ): { pool: Pool; app: string } {
      const app = `listen_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const pool = createPool({
        db: endpointOf(on ?? server, { application_name: app }),
        groups,
        driver: make(),
        reconnectBaseMs: 50,
        reconnectMaxMs: 500,
      });
      pools.push(pool);
      return { pool, app };
    }

    async function sessionsOn(s: TestServer, app: string): Promise<number> {
      const rows = await adminQuery(
        s,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      return rows[0].n as number;
    }

    async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
      for (let i = 0; i < 250; i++) {
        if (await check()) return;
        await sleep(20);
      }
      assert.fail(`never happened: ${what}`);
    }

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    it("a NOTIFY through any group reaches the listener with its payload and the sender's pid", async () => {
      const { pool } = makePool({
        plain: { connection_count: 1 },
        tx: { connection_count: 1, autocommit: false },
        shared: { connection_count: 1, pipeline: true },
      });
      // A name that means itself only when quoted as an identifier.
      const channel = `Jobs "${seq}"; DROP TABLE x; --`;
      const box = inbox();
      const unlisten = await pool.listen(channel, box.onNotify);
      const pids: number[] = [];
      for (const group of ["plain", "tx", "shared"]) {
        pids.push(
          await pool.withHandler(group, async (db) => {
            await db.query("SELECT pg_notify($1, $2)", [channel, `from ${group}`]);
            return (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
          }),
        );
      }
      // A NOTIFY statement, quoted by the sender, and an empty payload.
      await pool.withHandler(
        "plain",
        (db) => db.query(`NOTIFY "${channel.replaceAll('"', '""')}"`),
      );
      await box.until(4);
      assert.deepEqual(box.got.map((g) => g.payload), [
        "from plain",
        "from tx",
        "from shared",
        "",
      ]);
      for (const g of box.got) assert.equal(g.info.channel, channel);
      assert.deepEqual(box.got.slice(0, 3).map((g) => g.info.pid), pids);
      assert.equal(box.got[3].info.pid, pids[0]);
      await unlisten();
    });

    it("two channels and two callbacks on one channel share one session outside the groups' budget", async () => {
      const { pool, app } = makePool({ g: { connection_count: 1 } });
      const a1 = inbox();
      const a2 = inbox();
      const b = inbox();
      const stopA1 = await pool.listen("chan_a", a1.onNotify);
      const stopA2 = await pool.listen("chan_a", a2.onNotify);
      const stopB = await pool.listen("chan_b", b.onNotify);
      // The group's only session is leased while the listener keeps working.
      await pool.withHandler("g", async (db) => {
        assert.equal(await sessionsOn(server, app), 2);
        await db.query("SELECT pg_notify('chan_a', 'one'), pg_notify('chan_b', 'two')");
      });
      await a1.until(1);
      await a2.until(1);
      await b.until(1);
      assert.equal(a1.got[0].payload, "one");
      assert.equal(b.got[0].payload, "two");
      await stopA1();
      await stopA1(); // a second call does nothing
      await pool.query("SELECT pg_notify('chan_a', 'three')", [], { group: "g" });
      await a2.until(2);
      await sleep(100);
      assert.equal(a1.got.length, 1, "an unlistened callback got a notification");
      await stopA2();
      await pool.query("SELECT pg_notify('chan_a', 'four')", [], { group: "g" });
      await stopB();
      // The last unlisten closes the listen session; the group's session stays.
      await eventually(
        "the listen session closed",
        async () => (await sessionsOn(server, app)) === 1,
      );
      await sleep(100);
      assert.equal(a2.got.length, 2, "a notification arrived after unlisten");
    });

    it("pool.listen() refuses a bad channel or callback before any I/O", async () => {
      const { pool, app } = makePool({ g: { connection_count: 1 } });
      await assert.rejects(pool.listen("", () => {}), TypeError);
      await assert.rejects(pool.listen("a\0b", () => {}), TypeError);
      await assert.rejects(pool.listen("x".repeat(64), () => {}), RangeError);
      await assert.rejects(pool.listen("ok", "nope" as never), TypeError);
      assert.equal(await sessionsOn(server, app), 0);
    });

    it("the listener comes back after a server restart, and end() closes its session", async () => {
      let own: PrivateTestServer | undefined;
      try {
        own = await startPrivateServer();
        const s = own;
        const { pool, app } = makePool({ g: { connection_count: 1 } }, s);
        const box = inbox();
        await pool.listen("restart", box.onNotify);
        await pool.query("SELECT pg_notify('restart', 'before')", [], { group: "g" });
        await box.until(1);
        await s.stop();
        await s.start();
        // Groups reconnect on their own; the listener does so in the background.
        const deadline = Date.now() + 20_000;
        let sent = 0;
        while (box.got.length < 2 && Date.now() < deadline) {
          await pool.query("SELECT pg_notify('restart', $1)", [`after ${++sent}`], { group: "g" })
            .catch(() => {});
          await sleep(100);
        }
        assert.ok(box.got.length >= 2, "no notification reached the listener after the restart");
        assert.match(box.got[1].payload, /^after \d+$/);
        await pool.end();
        assert.equal(await sessionsOn(s, app), 0);
      } finally {
        await own?.dispose();
      }
    });
  });
}

describe("pool.listen() on a driver without notifications", () => {
  it("rejects with ListenUnsupportedError naming the driver and an alternative", async () => {
    const servers = await sharedServers();
    const driver: Driver = runtime.Bun !== undefined
      ? bunSql()
      : { name: "no-notify", connect: (p) => postgresjs().connect(p) };
    const pool = createPool({
      db: endpointOf(servers[0]),
      groups: { g: { connection_count: 1 } },
      driver,
    });
    try {
      await assert.rejects(pool.listen("x", () => {}), (err) => {
        assert.ok(err instanceof ListenUnsupportedError);
        assert.equal(err.driver, driver.name);
        assert.match(err.message, new RegExp(`"${driver.name}" driver`));
        assert.match(err.message, /postgresjs\(\) or nodePostgres\(\)/);
        return true;
      });
    } finally {
      await pool.end();
    }
  });
});
