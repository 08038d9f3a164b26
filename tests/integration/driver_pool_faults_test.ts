/**
 * What the pool sees of its drivers, per driver, against real PostgreSQL:
 * a parameter the driver refuses in the first statement of a transactional
 * group (BEGIN and that statement go out together) fails the call with a
 * `QueryError` and leaves nothing unhandled; server notices reach the pool as
 * `notice` events. Runs under `deno test` and `bun test` (Bun.SQL on Bun only).
 *
 * @module
 */
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type DriverNotice, type Pool, QueryError } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type EscapeWatch, watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

for (const { name, make: makeDriver } of drivers) {
  describe(`pool over ${name}: driver faults`, () => {
    let server: TestServer;
    let pool: Pool;
    let watch: EscapeWatch;

    before(async () => {
      server = (await sharedServers())[0];
      pool = createPool({
        db: endpointOf(server),
        groups: { tx: { connection_count: 2, autocommit: false }, auto: { connection_count: 2 } },
        driver: makeDriver(),
      });
    });

    after(async () => {
      await pool.end();
    });

    beforeEach(() => {
      watch = watchEscapes();
    });

    afterEach(() => {
      watch.stop();
    });

    it("withHandler() rejects with QueryError, leaving nothing unhandled, when the first statement of a transaction has a parameter the driver refuses", async () => {
      // Bun.SQL also refuses a Proxy, but only once it runs the query.
      const refused: unknown[] = [Symbol("s"), () => 1];
      if (name === "bun-sql") refused.push(new Proxy({}, {}));
      for (const bad of refused) {
        await assert.rejects(
          pool.withHandler("tx", (db) => db.query("SELECT $1::text AS v", [bad])),
          (err) => err instanceof QueryError,
        );
      }
      await settle();
      assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
      const { rows } = await pool.withHandler("tx", (db) => db.query("SELECT 1 AS one"));
      assert.deepEqual(rows, [{ one: 1 }]);
    });

    it(`pool dispatches the server's notices as notice events (${name})`, {
      skip: name === "bun-sql" ? "Bun.SQL has no notice hook" : false,
    }, async () => {
      const seen: DriverNotice[] = [];
      const listener: Parameters<Pool["addEventListener"]>[1] = (e) => {
        seen.push((e as CustomEvent<DriverNotice>).detail);
      };
      pool.addEventListener("notice", listener);
      try {
        await pool.withHandler(
          "auto",
          (db) => db.query("DO $$ BEGIN RAISE WARNING 'pool notice %', 7; END $$"),
        );
      } finally {
        pool.removeEventListener("notice", listener);
      }
      assert.deepEqual(seen.map((n) => [n.severity, n.message]), [["WARNING", "pool notice 7"]]);
    });
  });
}
