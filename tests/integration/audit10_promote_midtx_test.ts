/**
 * Failover while callers are inside transactions, per driver, on a primary
 * and a streaming standby: the primary stops under `primary` callers whose
 * transactions already got answers (the group has `retry: 2`): each gets a
 * `ConnectionError`, its `fn` ran once, nothing of it committed anywhere.
 * The standby is promoted under `standby` callers mid-transaction: they
 * finish on it; afterwards no `standby`-group lease lands on the new primary,
 * and the `primary` group commits there within a second of `pg_promote()`
 * returning (both times printed).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, createPool, OfflineError, type Pool } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A gate callers wait at, and a count of those that arrived. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const g = { arrived: 0, open, wait: () => (g.arrived++, opened) };
  return g;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

for (const { name, make: makeDriver } of runtimeDrivers()) {
  describe(`failover mid-transaction over ${name}`, () => {
    let pair: StandbyPair;
    let pool: Pool | undefined;

    before(async () => {
      pair = await startStandbyPair("CREATE TABLE midtx (id serial primary key, tag text)");
    });

    after(async () => {
      await pool?.end();
      await pair?.dispose();
    });

    it("nothing that may have run is replayed; standby callers finish; the primary group moves", async () => {
      const p = createPool({
        db: pair.endpoints(),
        groups: {
          w: { connection_count: 4, target_session_attrs: "primary", autocommit: false, retry: 2 },
          r: { connection_count: 2, target_session_attrs: "standby", autocommit: false },
        },
        driver: makeDriver(),
      });
      pool = p;
      await p.withHandler("w", (db) => db.query("insert into midtx (tag) values ('warm')"));
      const wGate = gate();
      const rGate = gate();
      let wRuns = 0;
      const writers = Array.from({ length: 4 }, (_, i) =>
        p.withHandler("w", async (db) => {
          wRuns++;
          await db.query("insert into midtx (tag) values ($1)", [`mid-${i}`]);
          await wGate.wait();
          await db.query("select 1");
        }));
      const readers = Array.from({ length: 2 }, () =>
        p.withHandler("r", async (db) => {
          const before = await db.query("select pg_is_in_recovery() as r");
          await rGate.wait();
          const after = await db.query("select pg_is_in_recovery() as r");
          return { id: db.endpoint.id, before: before.rows[0].r, after: after.rows[0].r };
        }));
      await until(
        "every caller inside its transaction",
        () => wGate.arrived === 4 && rGate.arrived === 2,
      );

      await pair.primary.stop();
      wGate.open();
      const wOut = await Promise.allSettled(writers);
      for (const o of wOut) {
        assert.equal(o.status, "rejected");
        const err = (o as PromiseRejectedResult).reason;
        assert.ok(err instanceof ConnectionError, String(err));
      }
      assert.equal(wRuns, 4, "no writer's fn ran twice although the group has retry 2");

      const promoting = Date.now();
      await pair.standby.promote();
      const promoted = Date.now();
      rGate.open();
      let servedMs = -1;
      const attempts: string[] = [];
      while (servedMs < 0) {
        try {
          await p.withHandler("w", (db) => db.query("insert into midtx (tag) values ('after')"));
          servedMs = Date.now() - promoted;
        } catch (err) {
          assert.ok(err instanceof OfflineError || err instanceof ConnectionError, String(err));
          attempts.push(`+${Date.now() - promoted} ms ${(err as Error).message}`);
          assert.ok(Date.now() - promoting < 10_000, `still failing 10 s later: ${err}`);
          await sleep(10);
        }
      }
      console.log(
        `[${name}] promoted under callers mid-transaction: pg_promote() took ` +
          `${promoted - promoting} ms, then the primary group committed in ${servedMs} ms`,
      );
      assert.ok(servedMs < 1000, `${servedMs} ms; failed attempts:\n${attempts.join("\n")}`);
      const rOut = await Promise.all(readers);
      for (const o of rOut) {
        assert.equal(o.id, "standby");
        assert.equal(o.before, true);
      }
      // A standby-group lease never lands on the server that is a primary now.
      for (let i = 0; i < 3; i++) {
        await assert.rejects(p.withHandler("r", (db) => db.query("select 1")), (err) => {
          assert.ok(err instanceof OfflineError, String(err));
          assert.match(err.message, /group "r" \(target_session_attrs "standby"\)/);
          return true;
        });
      }
      const rows = await adminQuery(
        pair.standby,
        "select tag from midtx where tag <> 'warm' order by id",
      );
      assert.deepEqual(rows.map((r) => r.tag), ["after"], "nothing of the cut transactions");
      assert.equal(p.stats().endpoints[1].role, "primary");
    });
  });
}
