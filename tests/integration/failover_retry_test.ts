/**
 * `groups.<g>.retry` on a real serialization failure, per driver: two
 * concurrent serializable transactions with a write skew; one fails with
 * 40001, runs again, and both commit. Without retry the caller gets the 40001.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, type Pool, QueryError } from "../../mod.ts";
import { adminQuery, type PrivateTestServer, startPrivateServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

describe("groups.<g>.retry against a real serialization failure", () => {
  let server: PrivateTestServer;
  const pools: Pool[] = [];

  before(async () => {
    server = await startPrivateServer();
    await adminQuery(
      server,
      `CREATE TABLE skew (id int primary key, v int);
       ALTER DATABASE ${server.database} SET default_transaction_isolation TO 'serializable'`,
    );
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.dispose();
  });

  // Both read the sum, wait for each other, then each writes its own row: a write skew.
  async function skew(makeDriver: () => Driver, retry: number) {
    await adminQuery(server, "DELETE FROM skew; INSERT INTO skew VALUES (1, 0), (2, 0)");
    const pool = createPool({
      db: endpointOf(server),
      groups: { tx: { connection_count: 2, autocommit: false, retry } },
      driver: makeDriver(),
    });
    pools.push(pool);
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((r) => (release = r));
    let runs = 0;
    const work = (id: number) =>
      pool.withHandler("tx", async (db) => {
        const first = runs++ < 2;
        const { rows } = await db.query("SELECT sum(v)::int AS s FROM skew");
        if (first) {
          if (++arrived === 2) release();
          await bothRead;
        }
        await db.query("UPDATE skew SET v = $1 + 1 WHERE id = $2", [rows[0].s, id]);
      });
    const outcomes = await Promise.allSettled([work(1), work(2)]);
    return { outcomes, runs };
  }

  for (const { name, make: makeDriver } of drivers) {
    it(`${name}: with retry 1 both commit and fn ran three times`, async () => {
      const { outcomes, runs } = await skew(makeDriver, 1);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ["fulfilled", "fulfilled"],
        String(
          outcomes.map((o) => o.status === "rejected" ? o.reason : "ok"),
        ),
      );
      assert.equal(runs, 3);
      const rows = await adminQuery(server, "SELECT v FROM skew ORDER BY id");
      assert.deepEqual(rows.map((r) => r.v).sort(), [1, 2]);
    });

    it(`${name}: without retry one caller gets 40001`, async () => {
      const { outcomes, runs } = await skew(makeDriver, 0);
      const failed = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
      assert.equal(failed.length, 1);
      assert.ok(failed[0].reason instanceof QueryError && failed[0].reason.code === "40001");
      assert.equal(runs, 2);
    });
  }
});
