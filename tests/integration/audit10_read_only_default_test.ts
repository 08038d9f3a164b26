/**
 * `read-write` vs `primary` when a running primary turns
 * `default_transaction_read_only` on for the whole server (ALTER SYSTEM +
 * reload) under a pool with live sessions, per driver: the `read-write` group
 * sees 25006 at most once, then `OfflineError` naming it and its target; the
 * `primary` group keeps its server; `read-only` takes it; turned off again,
 * the `read-write` group writes there again without a restart.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, OfflineError, type Pool, QueryError } from "../../mod.ts";
import { adminQuery, type PrivateTestServer, startPrivateServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("default_transaction_read_only turned on and off under a live pool", () => {
  let server: PrivateTestServer;
  const pools: Pool[] = [];

  before(async () => {
    server = await startPrivateServer();
    await adminQuery(server, "CREATE TABLE ro_flip (id serial primary key, who text)");
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.dispose();
  });

  // ALTER SYSTEM + reload; waits until a new session sees the value.
  async function readOnly(on: boolean): Promise<void> {
    await adminQuery(
      server,
      on
        ? "ALTER SYSTEM SET default_transaction_read_only = on"
        : "ALTER SYSTEM RESET default_transaction_read_only",
    );
    await adminQuery(server, "SELECT pg_reload_conf()");
    const want = on ? "on" : "off";
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      const [row] = await adminQuery(server, "SHOW default_transaction_read_only");
      if (row.default_transaction_read_only === want) return;
      await sleep(20);
    }
    throw new Error(`default_transaction_read_only never became ${want}`);
  }

  for (const { name, make: makeDriver } of runtimeDrivers()) {
    it(`${name}: read-write drops the server, primary keeps it, and read-write comes back`, async () => {
      const p = createPool({
        db: [endpointOf(server, { id: "only", connect_timeout: 2 })],
        groups: {
          rw: { connection_count: 2, target_session_attrs: "read-write" },
          pri: { connection_count: 2, target_session_attrs: "primary" },
          ro: { connection_count: 2, target_session_attrs: "read-only" },
        },
        driver: makeDriver(),
      });
      pools.push(p);
      const write = (g: string) =>
        p.withHandler(g, (db) => db.query("insert into ro_flip (who) values ($1)", [g]));
      // Both rw sessions open and idle, so the flip finds live sessions.
      await Promise.all([write("rw"), write("rw"), write("pri")]);
      await assert.rejects(p.withHandler("ro", () => 1), OfflineError);

      await readOnly(true);
      let denied = 0;
      let offline = 0;
      for (let i = 0; i < 6; i++) {
        try {
          await write("rw");
          assert.fail("a write went through on a read-only-by-default server");
        } catch (err) {
          if (err instanceof QueryError && err.code === "25006") denied++;
          else if (err instanceof OfflineError) {
            assert.match(err.message, /group "rw" \(target_session_attrs "read-write"\)/);
            assert.match(err.message, /no reachable endpoint has the role asked for/);
            offline++;
          } else throw err;
        }
      }
      assert.ok(denied <= 1, `the read-write group saw 25006 ${denied} times`);
      assert.equal(offline, 6 - denied);
      // primary: recovery only; the server is still a primary.
      assert.equal(await p.withHandler("pri", (db) => db.endpoint.role), "primary");
      // Its write is refused (25006 sets off a role check), and it still serves after.
      await assert.rejects(
        write("pri"),
        (err) => err instanceof QueryError && err.code === "25006",
      );
      for (let i = 0; i < 3; i++) {
        assert.equal(await p.withHandler("pri", (db) => db.endpoint.role), "primary");
      }
      // read-only: the server is read-only by default now.
      assert.equal(await p.withHandler("ro", (db) => db.endpoint.id), "only");

      await readOnly(false);
      const off = Date.now();
      let servedMs = -1;
      while (servedMs < 0) {
        try {
          await write("rw");
          servedMs = Date.now() - off;
        } catch (err) {
          assert.ok(err instanceof OfflineError || err instanceof QueryError, String(err));
          assert.ok(Date.now() - off < 5000, `read-write still refused 5 s later: ${err}`);
          await sleep(10);
        }
      }
      console.log(
        `[${name}] default_transaction_read_only off → read-write writes: ${servedMs} ms`,
      );
      const rows = await adminQuery(server, "select count(*)::int as n from ro_flip");
      assert.ok(Number(rows[0].n) >= 4);
      await p.end();
    });

    it(`${name}: a pipelined read-write group drops the server after one 25006`, async () => {
      const p = createPool({
        db: [endpointOf(server, { id: "only", connect_timeout: 2 })],
        groups: {
          rwp: { connection_count: 1, pipeline: true, target_session_attrs: "read-write" },
        },
        driver: makeDriver(),
      });
      pools.push(p);
      const write = () =>
        p.withHandler("rwp", (db) => db.query("insert into ro_flip (who) values ('rwp')"));
      await write();
      await readOnly(true);
      const outcomes: string[] = [];
      try {
        for (let i = 0; i < 6; i++) {
          try {
            await write();
            outcomes.push("written");
          } catch (err) {
            if (err instanceof QueryError && err.code === "25006") outcomes.push("25006");
            else if (err instanceof OfflineError) outcomes.push("offline");
            else throw err;
          }
        }
      } finally {
        await readOnly(false);
      }
      const denied = outcomes.filter((o) => o === "25006").length;
      assert.ok(denied <= 1, `the pipelined read-write group: ${outcomes.join()}`);
      assert.deepEqual(outcomes.filter((o) => o === "written"), []);
      await p.end();
    });
  }
});
