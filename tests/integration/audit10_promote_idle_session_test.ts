/**
 * Sessions left idle on a standby across its promotion, per driver: the
 * lease pings them first (`pingAfterIdleMs: 0`), and PostgreSQL reports the
 * new `in_hot_standby` with the ping's reply, so a `standby`-group lease must
 * not hand such a session to `fn` (it would run on a primary). Drivers that do
 * not surface reported parameters (Bun.SQL) cannot see the change without a
 * query: skipped there with that reason.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, OfflineError, type Pool } from "../../mod.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";

const gaps: Record<string, string> = {
  "bun-sql": "Bun.SQL does not surface ParameterStatus: a ping cannot reveal a promotion",
};

for (const { name, make: makeDriver } of runtimeDrivers()) {
  const gap = gaps[name] ?? false;
  describe(`idle standby sessions across a promotion over ${name}`, () => {
    let pair: StandbyPair;
    let pool: Pool | undefined;

    before(async () => {
      if (gap) return;
      pair = await startStandbyPair("CREATE TABLE idle_promo (id int)");
    });

    after(async () => {
      await pool?.end();
      await pair?.dispose();
    });

    it("a standby-group lease never runs fn on the promoted server", { skip: gap }, async () => {
      const p = createPool({
        db: pair.endpoints(),
        groups: {
          r: { connection_count: 2, target_session_attrs: "standby" },
          any: { connection_count: 2, endpoints: ["standby"] },
        },
        driver: makeDriver(),
        pingAfterIdleMs: 0,
      });
      pool = p;
      const inRecovery = (g: string) =>
        p.withHandler(g, async (db) => {
          const { rows } = await db.query("select pg_is_in_recovery() as r");
          return rows[0].r as boolean;
        });
      // Two idle sessions on the standby.
      assert.deepEqual(await Promise.all([inRecovery("r"), inRecovery("r")]), [true, true]);
      await pair.primary.stop();
      await pair.standby.promote();
      await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 3; i++) {
        try {
          const r = await inRecovery("r");
          assert.equal(r, true, `lease ${i} of the standby group ran fn on the new primary`);
        } catch (err) {
          assert.ok(err instanceof OfflineError, String(err));
        }
      }
      // The unconstrained group still uses the server.
      assert.equal(await inRecovery("any"), false);
    });
  });
}
