/**
 * The pool's cancel behind PgBouncer, per driver, against a real PgBouncer in
 * front of an embedded server.
 *
 * Session mode: a query given up on is cancelled (its backend stops), which
 * needs the session to stay connected until the cancel went through: a
 * PgBouncer that saw its client leave first drops the request.
 *
 * Transaction mode: the pool sends none (a pooler may hand that server
 * session to another client before the request lands: PgBouncer before 1.18
 * did); a pool aborting queries around their answer, sharing the one server
 * connection with another pool, never cancels the other pool's queries, and
 * PgBouncer stays up.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, type Pool } from "../../mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { type Bouncer, pgbouncerMissing, startPgbouncer } from "../support/pgbouncer.ts";
import { caseBatch } from "../support/case_batch.ts";

const missing = pgbouncerMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lenient = ["ignore_startup_parameters = statement_timeout, temp_buffers, options"];
let seq = 0;

/** A driver whose sessions count the cancels the pool asks for. */
function counted(make: () => Driver): { driver: Driver; sent: () => number } {
  const inner = make();
  let sent = 0;
  const driver: Driver = {
    name: inner.name,
    notifications: inner.notifications,
    connect: async (params) => {
      const conn = await inner.connect(params);
      const own = conn.cancel?.bind(conn);
      if (own) Object.defineProperty(conn, "cancel", { value: () => (sent++, own()) });
      return conn;
    },
  };
  return { driver, sent: () => sent };
}

for (const { name, make } of runtimeDrivers()) {
  const cancels = make().name !== "deno-postgres";
  describe(`the pool's cancel behind PgBouncer over ${name}`, () => {
    let server: TestServer;
    let session: Bouncer;
    let transaction: Bouncer;
    const pools: Pool[] = [];
    before(async () => {
      if (missing) return;
      server = (await sharedServers())[0];
      [session, transaction] = await Promise.all([
        startPgbouncer(server, { poolMode: "session", poolSize: 4, extra: lenient }),
        startPgbouncer(server, { poolSize: 1 }),
      ]);
    });
    after(async () => {
      await batch.stop();
      await Promise.all(pools.map((p) => p.end()));
      await Promise.all([session?.stop(), transaction?.stop()]);
    });

    const batch = caseBatch<string>([
      ["session", async () => {
        const tag = `/* a3_${name.replace(/\W/g, "_")}_${++seq}_${Date.now() % 1e6} */`;
        const text = `SELECT pg_sleep(30) ${tag}`;
        const { driver } = counted(make);
        const pool = createPool({
          db: endpointOf(session.server, { connect_timeout: 2 }),
          groups: { g: { connection_count: 1 } },
          driver,
        });
        pools.push(pool);
        const active = async () =>
          (await adminQuery(
            server,
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1",
            [text],
          ))[0].n as number;
        const ac = new AbortController();
        const call = pool.withHandler("g", (db) => db.query(text), { signal: ac.signal });
        call.catch(() => {});
        for (let i = 0; i < 100 && await active() === 0; i++) await sleep(20);
        assert.equal(await active(), 1, "the query never started");
        ac.abort(new Error("gave up"));
        await assert.rejects(call, /gave up/);
        let left = 1;
        for (let i = 0; i < 60 && (left = await active()) > 0; i++) await sleep(50);
        assert.equal(left, 0, "the backend still runs the query the pool gave up on");
      }],
      ["transaction", async () => {
        const db = endpointOf(transaction.server, { pool_mode: "transaction", connect_timeout: 5 });
        const { driver, sent } = counted(make);
        const aborting = createPool({ db, groups: { g: { connection_count: 2 } }, driver });
        const other = createPool({ db, groups: { g: { connection_count: 1 } }, driver: make() });
        pools.push(aborting, other);
        let stop = false;
        const failures: unknown[] = [];
        const victim = (async () => {
          while (!stop) {
            await other.withHandler("g", (h) => h.query("SELECT pg_sleep(0.002)"))
              .catch((err) => failures.push(err));
          }
        })();
        // Aborts from before the query is sent to after it answered.
        for (let round = 0; round < 120; round++) {
          await Promise.all([0, 1].map(async (i) => {
            const ac = new AbortController();
            const t = setTimeout(() => ac.abort(new Error("gave up")), (round * 7 + i * 3) % 9);
            await aborting.withHandler("g", (h) => h.query("SELECT pg_sleep(0.003)"), {
              signal: ac.signal,
            }).catch(() => {});
            clearTimeout(t);
          }));
        }
        await sleep(100);
        stop = true;
        await victim;
        assert.deepEqual(failures.slice(0, 3).map((e) => String(e)), []);
        assert.doesNotMatch(transaction.log(), /FATAL/);
        assert.equal(sent(), 0, "a CancelRequest went through a transaction-mode pooler");
      }],
    ]);

    it("session mode: the backend of a query given up on stops", {
      skip: missing ?? (cancels ? undefined : "no cancel in this driver"),
    }, () => batch.check("session"));
    it("transaction mode: no cancel is sent; another client's queries never fail", {
      skip: missing,
    }, () => batch.check("transaction"));
  });
}
