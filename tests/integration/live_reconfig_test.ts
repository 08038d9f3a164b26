/**
 * Live reconfiguration against real PostgreSQL, through every driver this
 * runtime has: `pool.resize`, `pool.drain` (after a password rotation, with
 * `pass` as a function), `pool.setEndpoints` (server A to server B), each
 * under load, with no call failing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  ConnectionError,
  createPool,
  PASS_FUNCTION_FAILED,
  type Pool,
  type PoolConfigInput,
} from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `work` from `n` concurrent loops until stopped; counts calls and keeps every failure. */
function load(n: number, work: () => Promise<unknown>) {
  let running = true;
  let calls = 0;
  const failures: unknown[] = [];
  const loops = Array.from({ length: n }, async () => {
    while (running) {
      try {
        await work();
        calls++;
      } catch (err) {
        failures.push(err);
        // A failing call must not spin: the first failures tell the story.
        if (failures.length >= 20) running = false;
      }
    }
  });
  return {
    get calls() {
      return calls;
    },
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

for (const { name, make } of drivers) {
  describe(`live reconfiguration over ${name} against real PostgreSQL`, () => {
    let servers: TestServer[];
    const pools: Pool[] = [];

    function makePool(
      groups: PoolConfigInput["groups"],
      db: (app: string) => PoolConfigInput["db"],
    ): { pool: Pool; app: string } {
      const app = `reconfig_${name}_${++seq}_${Date.now() % 100000}`.replace(/\W/g, "_");
      const pool = createPool({ db: db(app), groups, driver: make() });
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

    /** Polls until `check` holds (the server may list a closed session for a moment). */
    async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
      for (let i = 0; i < 250; i++) {
        if (await check()) return;
        await sleep(20);
      }
      assert.fail(`never happened: ${what}`);
    }

    before(async () => {
      servers = await sharedServers();
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    for (const pipeline of [false, true]) {
      it(`pool.resize() grows and shrinks a group under load (pipeline: ${pipeline})`, async () => {
        const { pool, app } = makePool(
          { g: { connection_count: 2, pipeline } },
          (app) => endpointOf(servers[0], { application_name: app }),
        );
        const s = servers[0];
        const busy = load(12, () => pool.query("SELECT pg_sleep(0.01)", [], { group: "g" }));
        try {
          await eventually("2 sessions", async () => (await sessionsOn(s, app)) === 2);
          pool.resize("g", 5);
          await eventually(
            "5 sessions after growing",
            async () => (await sessionsOn(s, app)) === 5,
          );
          pool.resize("g", 1);
          await eventually(
            "1 session after shrinking",
            async () => (await sessionsOn(s, app)) === 1,
          );
          const calls = busy.calls;
          await eventually("calls go on", () => Promise.resolve(busy.calls > calls + 20));
          assert.ok(pool.stats().groups.g.total <= 1, `total ${pool.stats().groups.g.total}`);
        } finally {
          await busy.stop();
        }
        assert.deepEqual(busy.failures, []);
        assert.ok((await sessionsOn(s, app)) <= 1);
      });
    }

    it("pool.resize() refuses a size below 1 or not whole, and an unknown group", () => {
      const { pool } = makePool({ g: { connection_count: 1 } }, () => endpointOf(servers[0]));
      assert.throws(() => pool.resize("g", 0), RangeError);
      assert.throws(() => pool.resize("g", 1.5), RangeError);
      assert.throws(() => pool.resize("nope", 2), /nope/);
    });

    it("pool.drain() after ALTER ROLE … PASSWORD: pass() gives the new one, no caller sees an error", async () => {
      const s = servers[0];
      const role = `reconfig_role_${name.replace(/\W/g, "_")}_${Date.now() % 100000}`;
      let password = `first-${crypto.randomUUID()}`;
      await adminQuery(s, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      let passCalls = 0;
      try {
        const { pool, app } = makePool(
          { g: { connection_count: 3 } },
          (app) => ({
            ...endpointOf(s, { application_name: app }),
            user: role,
            pass: async () => {
              passCalls++;
              await sleep(1);
              return password;
            },
          }),
        );
        const pidsOf = async () =>
          new Set(
            (await adminQuery(s, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
              app,
            ])).map((r) => r.pid as number),
          );
        const busy = load(6, () => pool.query("SELECT pg_sleep(0.005)", [], { group: "g" }));
        try {
          await eventually("3 sessions", async () => (await pidsOf()).size === 3);
          const before = await pidsOf();
          const created = pool.stats().groups.g.created;
          assert.ok(
            passCalls <= created,
            `pass() called ${passCalls} times for ${created} sessions`,
          );
          password = `second-${crypto.randomUUID()}`;
          await adminQuery(s, `ALTER ROLE ${role} PASSWORD '${password}'`);
          pool.drain();
          await eventually("every session replaced", async () => {
            const now = await pidsOf();
            return now.size > 0 && [...now].every((pid) => !before.has(pid));
          });
          const calls = busy.calls;
          await eventually("calls go on", () => Promise.resolve(busy.calls > calls + 20));
        } finally {
          await busy.stop();
        }
        assert.deepEqual(busy.failures, []);
        const stats = pool.stats().groups.g;
        assert.ok(
          passCalls <= stats.created + stats.createFailed,
          `pass() called ${passCalls} times for ${stats.created} sessions`,
        );
        await pool.end();
      } finally {
        await adminQuery(
          s,
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`,
        );
        await adminQuery(s, `DROP ROLE IF EXISTS ${role}`);
      }
    });

    it("pass() that throws, returns a non-string or never returns: ConnectionError, no password shown", async () => {
      const secret = `pw-${crypto.randomUUID()}`;
      const cases: [string, () => Promise<string>, RegExp][] = [
        ["throws", () => Promise.reject(new Error("token service down")), /"pass" function threw/],
        ["non-string", () => Promise.resolve(42 as unknown as string), /type number/],
        ["hangs", () => new Promise<string>(() => {}), /did not return within 1000 ms/],
      ];
      for (const [what, pass, message] of cases) {
        const { pool } = makePool(
          { g: { connection_count: 1 } },
          () => ({ ...endpointOf(servers[0]), pass, connect_timeout: 1 }),
        );
        await assert.rejects(pool.query("SELECT 1", [], { group: "g", timeoutMs: 5000 }), (err) => {
          assert.ok(err instanceof ConnectionError, `${what}: ${err}`);
          assert.equal(err.code, PASS_FUNCTION_FAILED);
          assert.match(err.message, message);
          assert.ok(!err.message.includes(secret));
          return true;
        });
        await pool.end();
      }
    });

    it("pool.setEndpoints() moves a pool from server A to server B under load; no call fails", async () => {
      const [a, b] = servers;
      if (a.port === b.port) return; // one server given through the environment
      const { pool, app } = makePool(
        { g: { connection_count: 3 }, p: { connection_count: 1, pipeline: true } },
        (app) => endpointOf(a, { application_name: app }),
      );
      let turn = 0;
      const busy = load(
        8,
        () => pool.withHandler(turn++ % 2 ? "g" : "p", (db) => db.query("SELECT pg_sleep(0.005)")),
      );
      const busyPipelined = load(4, () => pool.query("SELECT 1", [], { group: "p" }));
      try {
        await eventually("sessions on A", async () => (await sessionsOn(a, app)) >= 3);
        pool.setEndpoints([endpointOf(b, { application_name: app })]);
        await eventually(
          "every session on B, none left on A",
          async () => (await sessionsOn(a, app)) === 0 && (await sessionsOn(b, app)) > 0,
        );
        const port = await pool.withHandler("g", async (db) => {
          assert.equal(db.endpoint.port, b.port);
          return (await db.query<{ p: number }>("SELECT inet_server_port() AS p")).rows[0].p;
        });
        assert.equal(port, b.port);
      } finally {
        await busy.stop();
        await busyPipelined.stop();
      }
      assert.deepEqual(busy.failures, []);
      assert.deepEqual(busyPipelined.failures, []);
      assert.deepEqual(pool.stats().endpoints.map((e) => e.port), [b.port]);
    });

    it("pool.setEndpoints() refuses a list without an id a group is bound to, and changes nothing", async () => {
      const [a, b] = servers;
      const { pool } = makePool(
        { g: { connection_count: 1, endpoints: ["a"] } },
        () => [{ ...endpointOf(a), id: "a" }, { ...endpointOf(b), id: "b" }],
      );
      assert.throws(
        () => pool.setEndpoints([{ ...endpointOf(b), id: "b" }]),
        (err) =>
          err instanceof ConfigError && /groups\.g\.endpoints/.test(err.message) &&
          /"a"/.test(err.message),
      );
      const port = await pool.withHandler("g", (db) => db.endpoint.port);
      assert.equal(port, a.port);
      assert.throws(
        () => pool.setEndpoints(`postgres://u@h1,h2/db?target_session_attrs=read-write`),
        ConfigError,
      );
    });
  });
}
