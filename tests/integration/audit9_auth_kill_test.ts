/**
 * A running server is never reported unreachable (issue 9, item 6a),
 * attacked where the other test does not go: sessions of the only endpoint
 * are killed while they authenticate (`state = 'starting'`), in short
 * hunting windows, besides established ones every ~200 ms. Between the
 * windows the server serves; no caller may get `OfflineError` ("no endpoint
 * can be reached"), and nothing escapes. Per driver.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import postgres from "postgres";
import { createPool, OfflineError, type Pool, PoolError } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

const RUN_MS = 2_500;
const HUNT_MS = 60;
const QUIET_MS = 240;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make: makeDriver } of drivers) {
  describe(`sessions killed while they authenticate over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    before(async () => {
      [server] = await sharedServers();
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    it("no caller gets OfflineError while the only server runs; nothing escapes", {
      timeout: 60_000,
    }, async () => {
      const app = `audit9_auth_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
      const pool = createPool({
        db: endpointOf(server, { application_name: app, connect_timeout: 2 }),
        groups: { g: { connection_count: 5 } },
        driver: makeDriver(),
        acquireTimeoutMs: 3_000,
      });
      pools.push(pool);
      const killer = postgres(server.url, {
        max: 1,
        idle_timeout: 0,
        max_lifetime: 0,
        onnotice: () => {},
      });
      const watch = watchEscapes();
      const counts: Record<string, number> = {};
      let killedStarting = 0;
      let firstOffline = "";
      let running = true;
      const started = Date.now();
      const hunt = (async () => {
        let nextRandom = Date.now();
        while (running) {
          const hunting = (Date.now() - started) % (HUNT_MS + QUIET_MS) < HUNT_MS;
          try {
            if (hunting) {
              const rows = await killer.unsafe(
                `WITH k AS MATERIALIZED (
                   SELECT pid FROM pg_stat_activity
                   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                     AND state = 'starting'
                 ) SELECT pid FROM k WHERE pg_terminate_backend(pid)`,
              );
              killedStarting += rows.length;
            }
            if (Date.now() >= nextRandom) {
              nextRandom += 200;
              await killer.unsafe(
                `WITH k AS MATERIALIZED (
                   SELECT pid FROM pg_stat_activity WHERE application_name = $1
                   ORDER BY random() LIMIT 1
                 ) SELECT pid FROM k WHERE pg_terminate_backend(pid)`,
                [app],
              );
            }
          } catch { /* the killer's own session: go on */ }
          await sleep(2);
        }
      })();
      const worker = async () => {
        while (Date.now() - started < RUN_MS) {
          const key = await pool.withHandler("g", (db) => db.query("SELECT pg_sleep(0.005)"))
            .then(
              () => "ok",
              (err: unknown) => {
                if (err instanceof OfflineError && !firstOffline) firstOffline = err.message;
                return err instanceof PoolError ? err.constructor.name : `untyped ${inspect(err)}`;
              },
            );
          counts[key] = (counts[key] ?? 0) + 1;
          // A caller that failed fast does not spin.
          if (key !== "ok") await sleep(20);
        }
      };
      try {
        await Promise.all(Array.from({ length: 20 }, worker));
      } finally {
        running = false;
        await hunt;
        await killer.end({ timeout: 1 });
        await sleep(200);
        watch.stop();
      }
      console.log(
        `[${name}] auth kills: ${JSON.stringify(counts)}, killed authenticating=${killedStarting}`,
      );
      assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
      assert.ok(killedStarting > 0, "no session was caught authenticating");
      assert.ok((counts.ok ?? 0) > 0, JSON.stringify(counts));
      assert.equal(counts[OfflineError.name] ?? 0, 0, `${JSON.stringify(counts)}: ${firstOffline}`);
      assert.deepEqual(Object.keys(counts).filter((k) => k.startsWith("untyped")), []);
    });
  });
}
