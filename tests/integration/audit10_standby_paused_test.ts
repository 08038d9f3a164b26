/**
 * A standby whose replay is paused (`pg_wal_replay_pause()`: a standby that
 * lags as far as a caller can tell), per driver: it stays a standby to the
 * pool (its groups keep serving from it, stale, without errors or stalls;
 * the pool has no lag bound), and when the primary then stops and the paused
 * standby is promoted, the `primary` group serves from it within a second
 * of `pg_promote()` returning (both times printed: a paused standby's
 * promotion itself takes longer) and sees every row the old primary
 * committed and streamed.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, createPool, OfflineError, type Pool } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make: makeDriver } of runtimeDrivers()) {
  describe(`a paused standby over ${name}`, () => {
    let pair: StandbyPair;
    let pool: Pool | undefined;

    before(async () => {
      pair = await startStandbyPair("CREATE TABLE paused_t (id serial primary key, tag text)");
    });

    after(async () => {
      await pool?.end();
      await pair?.dispose();
    });

    it("serves stale reads while paused; promoted while paused, it takes the primary group", async () => {
      const p = createPool({
        db: pair.endpoints(),
        groups: {
          w: { connection_count: 2, target_session_attrs: "primary" },
          r: { connection_count: 2, target_session_attrs: "standby" },
          ps: { connection_count: 2, target_session_attrs: "prefer-standby" },
        },
        driver: makeDriver(),
      });
      pool = p;
      const count = (g: string, tag: string) =>
        p.withHandler(g, async (db) => {
          const { rows } = await db.query(
            "select count(*)::int as n from paused_t where tag = $1",
            [tag],
          );
          return { id: db.endpoint.id, n: Number(rows[0].n) };
        });
      await p.withHandler("w", (db) => db.query("insert into paused_t (tag) values ('a')"));
      const t0 = Date.now();
      while ((await count("r", "a")).n !== 1) {
        assert.ok(Date.now() - t0 < 10_000, "the standby never replayed row a");
        await sleep(20);
      }

      await adminQuery(pair.standby, "select pg_wal_replay_pause()");
      await p.withHandler("w", (db) => db.query("insert into paused_t (tag) values ('b')"));
      await sleep(300); // streamed, not replayed
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        for (const g of ["r", "ps"]) {
          assert.deepEqual(await count(g, "b"), { id: "standby", n: 0 }, `${g} while paused`);
        }
        assert.ok(Date.now() - t < 1000, "a read on the paused standby stalled");
      }
      assert.equal(p.stats().endpoints[1].role, "standby");

      await pair.primary.stop();
      await assert.rejects(p.withHandler("w", (db) => db.query("select 1")), (err) => {
        return err instanceof OfflineError || err instanceof ConnectionError;
      });
      await assert.rejects(p.withHandler("w", () => 1), OfflineError);
      const promoting = Date.now();
      await pair.standby.promote();
      const promoted = Date.now();
      let servedMs = -1;
      const attempts: string[] = [];
      while (servedMs < 0) {
        try {
          await p.withHandler("w", (db) => db.query("insert into paused_t (tag) values ('c')"));
          servedMs = Date.now() - promoted;
        } catch (err) {
          assert.ok(err instanceof OfflineError || err instanceof ConnectionError, String(err));
          attempts.push(`+${Date.now() - promoted} ms ${(err as Error).message}`);
          assert.ok(Date.now() - promoting < 10_000, `still failing 10 s later: ${err}`);
          await sleep(10);
        }
      }
      console.log(
        `[${name}] paused standby: pg_promote() took ${promoted - promoting} ms, ` +
          `then the primary group committed in ${servedMs} ms ` +
          `(${attempts.length} failed tries, last: ${attempts.at(-1)?.slice(0, 160) ?? "none"})`,
      );
      assert.ok(servedMs < 1000, `${servedMs} ms; failed attempts:\n${attempts.join("\n")}`);
      assert.deepEqual(
        await count("w", "b"),
        { id: "standby", n: 1 },
        "row b replayed at promotion",
      );
      // prefer-standby: no standby left, the new primary serves it.
      assert.equal((await count("ps", "c")).n, 1);
      await assert.rejects(p.withHandler("r", () => 1), OfflineError);
    });
  });
}
