/**
 * A query text holding a NUL character (U+0000) against a real PostgreSQL,
 * per driver: PostgreSQL ends its texts at NUL, so sent as is it cuts the
 * message and the server drops the session. The pool refuses such a text
 * before anything is sent, with a QueryError that says where the NUL is,
 * whether it sits in code, a string or a comment, in transactional,
 * autocommit and pipelined groups and through `db.sql`; the session serves on
 * (same backend). A NUL inside a parameter's value is the server's to refuse.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, QueryError } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { watchEscapes } from "../support/escapes.ts";

const TEXTS = [
  "SELECT 1\0",
  "SELECT 'a\0b' AS v",
  "SELECT 1 -- \0 in a comment",
  "/* \0 */ COMMIT",
  "SELECT $$\0$$",
];

const refused = (e: unknown) =>
  e instanceof QueryError && e.code === "22021" && /NUL/.test(e.message) &&
  /offset \d+/.test(e.message);

for (const { name, make } of runtimeDrivers()) {
  describe(`a NUL in the query text over ${name}`, () => {
    let server: TestServer;
    let pool: Pool;

    before(async () => {
      [server] = await sharedServers();
      pool = createPool({
        db: endpointOf(server, { application_name: `nul_text_${name}` }),
        groups: {
          tx: { connection_count: 1, autocommit: false },
          auto: { connection_count: 1 },
          pipe: { connection_count: 1, pipeline: true },
        },
        driver: make(),
      });
    });

    after(() => pool.end());

    it("is refused before sending, typed; the session serves on", async () => {
      const escapes = watchEscapes();
      for (const group of ["tx", "auto", "pipe"]) {
        const pid = async () =>
          (await pool.withHandler(group, (db) => db.query("SELECT pg_backend_pid() AS p"))).rows[0]
            .p;
        const before = await pid();
        await pool.withHandler(group, async (db) => {
          for (const text of TEXTS) {
            await assert.rejects(db.query(text), refused, `${group}: ${text}`);
          }
          await assert.rejects(db.sql`SELECT ${1}::int\0`, refused, `${group}: db.sql`);
          assert.equal((await db.query("SELECT 2 AS two")).rows[0].two, 2);
        });
        assert.equal(await pid(), before, `${group}: the same backend serves on`);
      }
      escapes.stop();
      assert.deepEqual(escapes.escaped, [], "nothing escaped");
    });

    it("inside a parameter's value is the server's QueryError, not a lost session", async () => {
      await pool.withHandler("auto", async (db) => {
        await assert.rejects(db.query("SELECT $1::text AS v", ["a\0b"]), QueryError);
        assert.equal((await db.query("SELECT 3 AS three")).rows[0].three, 3);
      });
    });
  });
}
