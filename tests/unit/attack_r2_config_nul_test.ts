/**
 * A NUL character in the SQL a config carries (a group's or the pool's
 * `on_connect` text, a group's `reset`), and in the statements an
 * `on_connect` function runs: PostgreSQL ends a text at NUL, so sent as is it
 * cuts the message and costs every new session (or every release). Refused
 * when the pool is built (`ConfigError` naming the field, the value not
 * quoted), and by `session.query` before anything is sent (QueryError 22021).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, ConnectionError, createPool, QueryError } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const db = { host: "a", user: "u" };
const g = { connection_count: 1 };

describe("a NUL in the SQL of a config", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "a group's on_connect",
      { groups: { g: { ...g, on_connect: "SET search_path = x\0y" } } },
      /groups\.g\.on_connect/,
    ],
    ["the pool's on_connect", { on_connect: "SELECT '\0'", groups: { g } }, /on_connect/],
    ["a group's reset", { groups: { g: { ...g, reset: "RESET ALL;\0" } } }, /groups\.g\.reset/],
  ];
  for (const [what, config, path] of cases) {
    it(`${what}: ConfigError naming the field, before any connect`, () => {
      const fake = new FakeDriver();
      assert.throws(() => createPool({ db, driver: fake, ...config } as never), (e) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.message, path);
        assert.match(e.message, /NUL/);
        return true;
      });
      assert.equal(fake.connectAttempts.length, 0);
    });
  }

  it("an on_connect function's session.query: QueryError 22021 before sending; the setup says why", async () => {
    const fake = new FakeDriver();
    let refused: unknown;
    const pool = createPool({
      db,
      driver: fake,
      groups: {
        g: {
          ...g,
          on_connect: async (s) => {
            refused = await s.query("SET application_name = 'a\0b'").then(() => "sent", (e) => e);
          },
        },
      },
    });
    try {
      // A statement of the hook that failed fails the setup, awaited or not (docs: on_connect).
      await assert.rejects(pool.query("SELECT 1", [], { group: "g" }), (e) => {
        assert.ok(e instanceof ConnectionError, String(e));
        assert.match(e.message, /on_connect failed: Cannot send a query text holding a NUL/);
        return true;
      });
      assert.ok(refused instanceof QueryError && refused.code === "22021", String(refused));
      assert.deepEqual(fake.queries.filter((q) => q.text.includes("\0")), []);
    } finally {
      await pool.end();
    }
  });
});
