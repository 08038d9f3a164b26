/**
 * `pool.listen` attacked the way users and networks would: channel names at
 * the 63-byte limit in multi-byte UTF-8, a 7999-byte unicode payload, the
 * listen session killed with pg_terminate_backend, callbacks that throw or
 * reject, listen racing end(), and a server that is not there.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPool,
  type Driver,
  type NotifyInfo,
  OfflineError,
  type Pool,
  PoolClosedError,
  type PoolConfigInput,
} from "../../mod.ts";
import { adminQuery, freePort, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { startProxy } from "../../src/testing/mod.ts";

const drivers = runtimeDrivers({ bunSql: false });

let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 8000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  assert.fail(`never happened: ${what}`);
}

for (const { name, make } of drivers) {
  describe(`attacks on pool.listen() over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    function makePool(extra: Partial<PoolConfigInput> = {}): { pool: Pool; app: string } {
      const app = `atk_listen_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const pool = createPool({
        db: endpointOf(server, { application_name: app }),
        groups: { g: { connection_count: 1 } },
        driver: make(),
        reconnectBaseMs: 50,
        reconnectMaxMs: 200,
        ...extra,
      });
      pools.push(pool);
      return { pool, app };
    }

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    it("a 63-byte multi-byte channel and a 7999-byte unicode payload arrive intact", async () => {
      const { pool } = makePool();
      // 21 three-byte characters: 63 bytes, PostgreSQL's limit, not truncated.
      const channel = "€".repeat(21);
      const quoted = `"q'"ü${seq}`;
      const payload = "ü".repeat(3999) + "x"; // 7999 bytes
      const got: { payload: string; info: NotifyInfo }[] = [];
      const stop1 = await pool.listen(channel, (p, info) => void got.push({ payload: p, info }));
      const stop2 = await pool.listen(quoted, (p, info) => void got.push({ payload: p, info }));
      await pool.query("SELECT pg_notify($1, $2), pg_notify($3, 'q')", [channel, payload, quoted], {
        group: "g",
      });
      await until("both notifications", () => got.length === 2);
      assert.equal(got[0].info.channel, channel);
      assert.equal(got[0].payload, payload);
      assert.equal(got[1].info.channel, quoted);
      // A 64-byte name (22 × "€" is 66 bytes) is refused before any I/O.
      await assert.rejects(pool.listen("€".repeat(22), () => {}), RangeError);
      await stop1();
      await stop2();
    });

    it("a callback that throws or rejects stops neither itself nor the others", async () => {
      const { pool } = makePool();
      let good = 0;
      let bad = 0;
      const stops = [
        await pool.listen("atk_throw", () => {
          bad++;
          throw new Error("boom");
        }),
        await pool.listen("atk_throw", () => {
          bad++;
          return Promise.reject(new Error("async boom"));
        }),
        await pool.listen("atk_throw", () => void good++),
      ];
      for (let i = 0; i < 3; i++) {
        await pool.query("SELECT pg_notify('atk_throw', $1)", [String(i)], { group: "g" });
      }
      await until("every notification to every callback", () => good === 3 && bad === 6);
      for (const stop of stops) await stop();
    });

    it("a listen session killed with pg_terminate_backend comes back and delivers again", async () => {
      const { pool, app } = makePool();
      const got: string[] = [];
      const stop = await pool.listen("atk_kill", (p) => void got.push(p));
      const killed = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t",
        [app],
      );
      assert.equal(killed[0].n, 1);
      // Notify until one arrives: those sent while it was away are lost.
      await until("a notification after the kill", async () => {
        await pool.query("SELECT pg_notify('atk_kill', 'again')", [], { group: "g" });
        await sleep(50);
        return got.length > 0;
      });
      await stop();
      await until("no session left but the group's", async () => {
        const rows = await adminQuery(
          server,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        return rows[0].n === 1;
      });
    });

    it("listen racing end(): it rejects with PoolClosedError or stops, and no session stays", async () => {
      const { pool, app } = makePool();
      const pending = pool.listen("atk_race", () => {});
      const ended = pool.end();
      const outcome = await pending.then(() => "listened", (err) => err);
      await ended;
      if (outcome !== "listened") assert.ok(outcome instanceof PoolClosedError, String(outcome));
      await assert.rejects(pool.listen("atk_race", () => {}), PoolClosedError);
      await until("no session left", async () => {
        const rows = await adminQuery(
          server,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        return rows[0].n === 0;
      });
    });

    it("listen on a session that went silent settles (no hang), and listening works again", async () => {
      const proxy = await startProxy({ target: server });
      try {
        // The keep-alive of the defaults (a ping every 10 s, 5 s to answer), made short.
        const { pool } = makePool({
          db: { ...endpointOf(server), host: proxy.host, port: proxy.port },
          listenPingIntervalMs: 500,
          listenPingTimeoutMs: 500,
        });
        const got: string[] = [];
        const stopA = await pool.listen("atk_silent_a", (p) => void got.push(p));
        proxy.silenceOpen();
        const started = Date.now();
        const outcome = await pool.listen("atk_silent_b", (p) => void got.push(p)).then(
          (stop) => stop,
          (err: Error) => err,
        );
        // The ping (every 0.5 s here, 0.5 s to answer) closes a silent session: the call settles.
        assert.ok(Date.now() - started < 20_000);
        assert.ok(typeof outcome === "function" || outcome instanceof Error);
        await until("a notification on a", async () => {
          await pool.query("SELECT pg_notify('atk_silent_a', 'a')", [], { group: "g" });
          await sleep(50);
          return got.includes("a");
        }, 20_000);
        if (typeof outcome === "function") await outcome();
        await stopA();
      } finally {
        await proxy.close();
      }
    });

    it("a storm of 10000 notifications in one transaction arrives whole and in order", async () => {
      const { pool } = makePool();
      const got: string[] = [];
      const stop = await pool.listen("atk_storm", (p) => void got.push(p));
      await pool.query(
        "SELECT count(pg_notify('atk_storm', g::text)) FROM generate_series(1, 10000) g",
        [],
        { group: "g" },
      );
      await until("10000 notifications", () => got.length >= 10000, 20_000);
      assert.equal(got.length, 10000);
      assert.deepEqual(got.slice(0, 3), ["1", "2", "3"]);
      assert.equal(got[9999], "10000");
      assert.equal((await pool.query("SELECT 1 AS n", [], { group: "g" })).rows[0].n, 1);
      await stop();
    });

    it("listen failing against a URL with a password never shows the password", async () => {
      const secret = "listen-url-s3cr3t";
      const port = await freePort();
      const pool = createPool({
        db:
          `postgres://${server.user}:${secret}@127.0.0.1:${port}/${server.database}?connect_timeout=1`,
        groups: { g: { connection_count: 1 } },
        driver: make(),
      });
      pools.push(pool);
      const err = await pool.listen("atk_pw", () => {}).then(() => undefined, (e: Error) => e);
      assert.ok(err instanceof OfflineError, String(err));
      let text = "";
      for (let e: unknown = err; e instanceof Error; e = e.cause) {
        text += `${e.message} ${e.stack} `;
      }
      assert.ok(!text.includes(secret), text);
    });

    it("a callback that listens again during a delivery: the new callback gets only later notifications", async () => {
      const { pool } = makePool();
      const late: string[] = [];
      const stops: Promise<() => Promise<void>>[] = [];
      let calls = 0;
      // Re-arming on every notification: each one adds a callback for the next.
      const rearm = (payload: string) => {
        if (++calls > 100) return; // without the fix this loops within one delivery
        late.push(payload);
        stops.push(pool.listen("atk_rearm", rearm));
      };
      stops.push(pool.listen("atk_rearm", rearm));
      await stops[0];
      await pool.query("SELECT pg_notify('atk_rearm', 'one')", [], { group: "g" });
      await until("the first delivery", () => late.length > 0);
      await sleep(100);
      assert.deepEqual(late, ["one"], "a callback added during a delivery got that notification");
      for (const stop of await Promise.all(stops)) await stop();
    });

    it("setEndpoints() to another server moves the listen session there; its NOTIFYs arrive", async () => {
      const [, other] = await sharedServers();
      const { pool, app } = makePool();
      const got: string[] = [];
      const stop = await pool.listen("atk_move", (p) => void got.push(p));
      pool.setEndpoints(endpointOf(other, { application_name: app }));
      await until("a notification on the new server", async () => {
        await adminQuery(other, "SELECT pg_notify('atk_move', 'moved')");
        await sleep(50);
        return got.includes("moved");
      });
      const left = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      assert.equal(left[0].n, 0, "a session stayed on the removed server");
      await stop();
    });

    it("a callback that unlistens itself, or ends the pool, from inside a delivery", async () => {
      const { pool, app } = makePool();
      const seen: string[] = [];
      let stopSelf: (() => Promise<void>) | undefined;
      stopSelf = await pool.listen("atk_inside", (p) => {
        seen.push(`self:${p}`);
        void stopSelf?.();
        stopSelf = undefined;
      });
      let ended: Promise<void> | undefined;
      await pool.listen("atk_inside", (p) => {
        seen.push(`end:${p}`);
        ended ??= pool.end();
      });
      await pool.query("SELECT pg_notify('atk_inside', 'x')", [], { group: "g" });
      await until("the pool ended from a callback", () => ended !== undefined);
      await ended;
      assert.deepEqual(seen, ["self:x", "end:x"]);
      await until("no session left", async () => {
        const rows = await adminQuery(
          server,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [app],
        );
        return rows[0].n === 0;
      });
    });

    it("a server that goes silent right after the connect: listen() settles and end() does not hang", async () => {
      // The real driver and server, with the network going quiet once the login is done:
      // the session's queries get no answer (until the session is closed here).
      const base = make();
      const driver: Driver = {
        name: base.name,
        notifications: base.notifications,
        connect: async (params) => {
          const conn = await base.connect(params);
          let gone!: (err: Error) => void;
          const closed = new Promise<never>((_, reject) => (gone = reject));
          closed.catch(() => {});
          return {
            get closed() {
              return conn.closed;
            },
            get parameters() {
              return conn.parameters;
            },
            query: () => closed,
            close: () => {
              gone(new Error("the session was closed"));
              return conn.close();
            },
          };
        },
      };
      const pool = createPool({
        db: endpointOf(server),
        groups: { g: { connection_count: 1 } },
        driver,
        reconnectBaseMs: 50,
        reconnectMaxMs: 200,
        // Unanswered LISTENs close the new session after this (5 s by default).
        listenPingTimeoutMs: 500,
      });
      pools.push(pool);
      const never = new Promise((r) => setTimeout(() => r("still pending"), 20_000));
      const outcome = await Promise.race([
        pool.listen("atk_quiet", () => {}).then(() => "listened", (err: Error) => err),
        never,
      ]);
      assert.ok(outcome instanceof Error, `listen() gave ${String(outcome)}`);
      const ended = await Promise.race([pool.end().then(() => "ended"), never]);
      assert.equal(ended, "ended");
    });

    it("setEndpoints() while the listen session is still connecting to the removed server", async () => {
      const [, other] = await sharedServers();
      const proxy = await startProxy({ target: server });
      try {
        proxy.delay(150); // a slow login to the old server
        const { pool } = makePool({
          db: { ...endpointOf(server), host: proxy.host, port: proxy.port },
        });
        const got: string[] = [];
        const listening = pool.listen("atk_move_early", (p) => void got.push(p));
        await sleep(50);
        pool.setEndpoints(endpointOf(other));
        const stop = await listening.catch(() => undefined);
        const again = stop ?? await pool.listen("atk_move_early", (p) => void got.push(p));
        await until("a notification on the new server", async () => {
          await adminQuery(other, "SELECT pg_notify('atk_move_early', 'moved')");
          await sleep(100);
          return got.includes("moved");
        }, 10_000);
        await again();
      } finally {
        await proxy.close();
      }
    });

    it("listen with no server there rejects with OfflineError, within the connect timeout", async () => {
      const port = await freePort();
      const pool = createPool({
        db: { ...endpointOf(server), port, connect_timeout: 2 },
        groups: { g: { connection_count: 1 } },
        driver: make(),
      });
      pools.push(pool);
      const started = Date.now();
      await assert.rejects(pool.listen("atk_down", () => {}), OfflineError);
      assert.ok(Date.now() - started < 30_000);
    });
  });
}
