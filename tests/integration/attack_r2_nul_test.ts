/**
 * A NUL character and the parameter limit, past nul_text_test, over every
 * driver against a real server: in `paramstyle: "pyformat"` groups of every
 * kind the QueryError 22021 names the NUL's offset in the caller's text (not
 * in its `$n` translation); a NUL in a NOTIFY text is refused before sending
 * and one in a `pg_notify` payload is the server's to refuse, while the
 * listen session keeps delivering; 65534 parameters through `db.sql` and
 * pyformat (positional and named) are QueryError 54023 before sending, and
 * 65533 through `db.sql` go through. The session serves on (same backend).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Handler, type Pool, QueryError } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { watchEscapes } from "../support/escapes.ts";

const PYFORMAT: [string, unknown][] = [
  ["SELECT %(long_name)s::int AS v, '\0'", { long_name: 1 }],
  ["SELECT %s::int, %s::int, '\0'", [1, 2]],
  ["SELECT %(a)s::int /* \0 */", { a: 1 }],
  ["SELECT %(a)s::int, %(a)s::int -- \0", { a: 1 }],
];

const GROUPS = ["tx", "auto", "pipe"];

for (const { name, make } of runtimeDrivers()) {
  describe(`a NUL and the parameter limit over ${name}`, () => {
    let server: TestServer;
    let pool: Pool;
    const pid = async (group: string) =>
      (await pool.withHandler(group, (db) => db.query("SELECT pg_backend_pid() AS p"))).rows[0].p;

    before(async () => {
      [server] = await sharedServers();
      const py = { paramstyle: "pyformat" as const };
      pool = createPool({
        db: endpointOf(server, { application_name: `attack_r2_nul_${name}` }),
        groups: {
          tx: { connection_count: 1, autocommit: false, ...py },
          auto: { connection_count: 1, ...py },
          pipe: { connection_count: 1, pipeline: true, ...py },
        },
        driver: make(),
      });
    });

    after(() => pool.end());

    it("pyformat: the QueryError names the NUL's offset in the caller's text", async () => {
      const escapes = watchEscapes();
      for (const group of GROUPS) {
        const before = await pid(group);
        await pool.withHandler(group, async (db) => {
          for (const [text, params] of PYFORMAT) {
            const at = text.indexOf("\0");
            await assert.rejects(db.query(text, params as never), (e) => {
              assert.ok(e instanceof QueryError && e.code === "22021", String(e));
              assert.match(e.message, new RegExp(`at offset ${at}\\b`), `${group}: ${text}`);
              return true;
            });
          }
          assert.equal((await db.query("SELECT %s::int AS v", [2])).rows[0].v, 2);
        });
        assert.equal(await pid(group), before, `${group}: the same backend serves on`);
      }
      escapes.stop();
      assert.deepEqual(escapes.escaped, []);
    });

    it("65534 parameters through db.sql and pyformat are 54023 before sending; 65533 through db.sql pass", async () => {
      const over = Array.from({ length: 65534 }, (_, i) => i);
      const tooMany = (e: unknown) => e instanceof QueryError && e.code === "54023";
      const sqlText = (n: number) => {
        const strings = [
          "SELECT (ARRAY[",
          ...Array.from({ length: n - 1 }, () => "::int,"),
          `::int])[${n}] AS v`,
        ];
        return Object.assign(strings, { raw: strings }) as unknown as TemplateStringsArray;
      };
      const positional = "SELECT " + over.map(() => "%s::int").join(" + ");
      const named = Object.fromEntries(over.map((v) => [`n${v}`, v]));
      const byName = "SELECT " + over.map((v) => `%(n${v})s::int`).join(" + ");
      const tooManyTemplate = sqlText(65534);
      // Each way in a group of each kind (the limit is checked before any of them sends).
      const ways: [string, (db: Handler) => Promise<unknown>][] = [
        ["tx", (db) => db.sql(tooManyTemplate, ...over)],
        ["auto", (db) => db.query(positional, over)],
        ["pipe", (db) => db.query(byName, named)],
      ];
      for (const [group, send] of ways) {
        const before = await pid(group);
        await pool.withHandler(group, (db) => assert.rejects(send(db), tooMany, group));
        assert.equal(await pid(group), before, `${group}: the same backend serves on`);
      }
      const most = over.slice(0, 65533);
      const { rows } = await pool.withHandler("auto", (db) => db.sql(sqlText(65533), ...most));
      assert.equal(rows[0].v, 65532);
    });

    it(
      "NOTIFY: a NUL in its text is refused, in a pg_notify payload the server refuses; delivery goes on",
      {
        skip: name === "bun-sql" ? "Bun.SQL has no pool.listen (docs/listen.md)" : false,
      },
      async () => {
        const channel = `attack_r2_nul_${name}`.replace(/\W/g, "_");
        const got: string[] = [];
        const unlisten = await pool.listen(channel, (payload) => void got.push(payload));
        try {
          await assert.rejects(
            pool.query(`NOTIFY ${channel}, 'a\0b'`, undefined, { group: "auto" }),
            {
              code: "22021",
            },
          );
          await assert.rejects(
            pool.query("SELECT pg_notify(%s, %s)", [channel, "a\0b"], { group: "auto" }),
            (e) =>
              e instanceof QueryError && e.code !== "22021" || /NUL|0x00|null/i.test(String(e)),
          );
          await assert.rejects(pool.listen("a\0b", () => {}), TypeError);
          await pool.query("SELECT pg_notify(%s, %s)", [channel, "after"], { group: "auto" });
          const deadline = Date.now() + 3000;
          while (!got.includes("after") && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.deepEqual(got, ["after"]);
        } finally {
          await unlisten();
        }
      },
    );
  });
}
