/**
 * Connect failures against real PostgreSQL, per driver: a refused login is no
 * outage; sessions terminated while they are being established do not make a
 * running server "unreachable"; after an outage, service resumes within about
 * a second of the server's return.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  createPool,
  type Driver,
  isRetryable,
  OfflineError,
  type Pool,
} from "../../mod.ts";
import {
  adminQuery,
  freePort,
  type PrivateTestServer,
  startPrivateServer,
} from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";

const drivers = runtimeDrivers();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let outages: Promise<unknown> = Promise.resolve();

/**
 * Runs `outage` after any other driver's: the time to serve again is measured, and the restart
 * of another driver's server at the same moment would weigh on it.
 */
function oneOutageAtATime(outage: () => Promise<void>): Promise<void> {
  const mine = outages.then(outage);
  outages = mine.catch(() => {});
  return mine;
}

/** A driver's cases, in order, on a private server of its own; `end()` ends its pools and server. */
function healthCases(name: string, makeDriver: () => Driver): {
  cases: [string, () => Promise<void>][];
  end(): Promise<void>;
} {
  let server: PrivateTestServer;
  const pools: Pool[] = [];
  let seq = 0;
  const cases: [string, () => Promise<void>][] = [];
  // The cases of a driver run one after the other (one stops and restarts the server), the
  // first once the server has started (started by the first case run).
  let previous: Promise<unknown> | undefined;
  const add = (title: string, run: () => Promise<void>) =>
    cases.push([title, () => {
      const mine = (previous ??= startPrivateServer().then((s) => server = s)).then(run);
      previous = mine.catch(() => {});
      return mine;
    }]);

  function pool(extra: Record<string, unknown> = {}, count = 5): { pool: Pool; app: string } {
    const app = `fo_${name.replace(/\W/g, "_")}_${++seq}`;
    const p = createPool({
      db: [endpointOf(server, { application_name: app, connect_timeout: 2, ...extra })],
      groups: { g: { connection_count: count } },
      driver: makeDriver(),
      reconnectBaseMs: 100,
      reconnectMaxMs: 1000,
    });
    pools.push(p);
    return { pool: p, app };
  }

  add(
    "a wrong password is a ConnectionError with code 28P01, not retryable, endpoint not marked down",
    async () => {
      const { pool: p } = pool({ pass: "wrong-password" });
      for (let i = 0; i < 3; i++) {
        await assert.rejects(p.withHandler("g", () => 1), (err) => {
          assert.ok(err instanceof ConnectionError && !(err instanceof OfflineError), String(err));
          assert.equal(err.code, "28P01");
          assert.equal(isRetryable(err), false);
          assert.ok(!err.message.includes("wrong-password"));
          return true;
        });
      }
      const [e] = p.stats().endpoints;
      assert.equal(e.up, true);
      assert.equal(e.failures, 0);
    },
  );

  add(
    "a missing database is a ConnectionError with code 3D000, endpoint not marked down",
    async () => {
      const { pool: p } = pool({ name: "no_such_db" });
      await assert.rejects(p.withHandler("g", () => 1), (err) => {
        assert.ok(err instanceof ConnectionError && !(err instanceof OfflineError), String(err));
        assert.equal(err.code, "3D000");
        assert.equal(isRetryable(err), false);
        return true;
      });
      assert.equal(p.stats().endpoints[0].up, true);
    },
  );

  add(
    "pool.open() opens connection_count sessions, and rejects with OfflineError when the server is down",
    async () => {
      const { pool: p, app } = pool({}, 4);
      await p.open();
      const rows = await adminQuery(
        server,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      assert.equal(rows[0].n, 4);
      const { pool: down } = pool({ port: await freePort() }, 2);
      await assert.rejects(down.open(), (err) => {
        assert.ok(err instanceof OfflineError, String(err));
        return true;
      });
    },
  );

  add(
    "sessions terminated every 200 ms on the only endpoint: no caller gets OfflineError",
    async () => {
      const { pool: p, app } = pool({}, 5);
      let stop = false;
      const killer = (async () => {
        while (!stop) {
          await adminQuery(
            server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            [app],
          ).catch(() => {});
          await sleep(200);
        }
      })();
      const outcomes = new Map<string, number>();
      const deadline = Date.now() + 2000;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (Date.now() < deadline) {
          let outcome = "ok";
          try {
            await p.withHandler("g", (db) => db.query("select pg_sleep(0.005)"), {
              timeoutMs: 5000,
            });
          } catch (err) {
            outcome = (err as Error).name;
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
      }));
      stop = true;
      await killer;
      const summary = [...outcomes].map(([k, v]) => `${k}=${v}`).join(", ");
      console.log(`[${name}] 20 callers for 2 s, sessions killed every 200 ms: ${summary}`);
      assert.equal(outcomes.get("OfflineError") ?? 0, 0, summary);
      assert.ok((outcomes.get("ok") ?? 0) > 20, summary);
      assert.equal(p.stats().endpoints[0].up, true);
    },
  );

  add(
    "serves again within about a second of the server's return after an outage under 50 callers",
    () =>
      oneOutageAtATime(async () => {
        const { pool: p } = pool({}, 10);
        await p.withHandler("g", () => 1);
        await server.stop();
        let stop = false;
        let firstOkAt = 0;
        const callers = Array.from({ length: 50 }, async () => {
          while (!stop) {
            try {
              await p.withHandler("g", (db) => db.query("select 1"), { timeoutMs: 2000 });
              firstOkAt ||= Date.now();
            } catch {
              await sleep(20);
            }
          }
        });
        let backAt = 0;
        // Whatever fails, the callers stop: a failed check must not leave them looping.
        try {
          await sleep(1000);
          assert.equal(p.stats().endpoints[0].up, false);
          assert.ok(
            p.stats().endpoints[0].failures < 10,
            `failures ${p.stats().endpoints[0].failures}`,
          );
          await server.start();
          backAt = Date.now();
          while (!firstOkAt && Date.now() - backAt < 10_000) await sleep(10);
        } finally {
          stop = true;
          await Promise.all(callers);
        }
        const ms = firstOkAt - backAt;
        console.log(`[${name}] server back to first served call: ${ms} ms`);
        assert.ok(firstOkAt > 0 && ms < 1500, `service resumed ${ms} ms after the server's return`);
      }),
  );

  return {
    cases,
    async end() {
      await previous;
      await Promise.all(pools.map((p) => p.end()));
      await server?.dispose();
    },
  };
}

// The drivers' cases run at the same time, each driver's in order on its own private server: each
// test checks its own case, and that nothing escaped while any ran; the first waits for all.
const perDriver = drivers.map(({ name, make }) => ({ name, ...healthCases(name, make) }));
const batch = caseBatch(
  perDriver.flatMap(({ name, cases }) =>
    cases.map(([title, run]) => [`${name}: ${title}`, run] as const)
  ),
);

for (const { name, cases, end } of perDriver) {
  describe(`endpoint health over ${name} against real PostgreSQL`, () => {
    after(async () => {
      await batch.stop();
      await end();
    });
    for (const [title] of cases) {
      it(title, { timeout: 60_000 }, () => batch.check(`${name}: ${title}`));
    }
  });
}
