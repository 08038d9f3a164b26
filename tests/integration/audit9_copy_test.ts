/**
 * `COPY` in disguise (issue 9, items 0 and 17): the refusal must see every
 * `COPY` the server would run, or postgres.js hands out a stream whose
 * error, once the session is used again, escapes the process. Per driver,
 * through the pool: a `COPY` after a line comment that a lone `\r` ends,
 * after an identifier ending in `$$`, and one a server with
 * `standard_conforming_strings` off reads outside a string, is refused with
 * `QueryError` 0A000 (or at worst fails typed); the next call is served and
 * nothing escapes.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, type Pool, QueryError } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

/** Texts the server runs as COPY; what comes before it in the same lease. */
const DISGUISES: [string, string[]][] = [
  ["after a line comment a lone \\r ends", ["-- a comment\rCOPY (SELECT 1) TO STDOUT"]],
  ["after an identifier ending in $$", ["SELECT 1 AS a$$; COPY (SELECT 2) TO STDOUT"]],
  ["after a string whose next line goes on as an E'' string", [
    "SELECT E'a'\n'\\'' ; COPY (SELECT 4) TO STDOUT; --'",
  ]],
  ["that standard_conforming_strings off puts outside a string", [
    "SET standard_conforming_strings = off",
    "SELECT 'a\\', '; COPY (SELECT 3) TO STDOUT; --'",
  ]],
];

for (const { name, make: makeDriver } of drivers) {
  describe(`COPY in disguise over ${name}`, () => {
    let server: TestServer;
    let pool: Pool;

    before(async () => {
      [server] = await sharedServers();
      pool = createPool({
        db: endpointOf(server),
        groups: { g: { connection_count: 1 } },
        driver: makeDriver(),
      });
    });

    after(() => pool.end());

    for (const [what, texts] of DISGUISES) {
      it(`COPY ${what} is refused with QueryError 0A000; the session serves on, nothing escapes`, async () => {
        const watch = watchEscapes();
        const problems: string[] = [];
        try {
          const outcome = await pool.withHandler("g", async (db) => {
            for (const text of texts.slice(0, -1)) await db.query(text);
            const copy = await db.query(texts[texts.length - 1]).then(
              (r) => ({ rows: r.rows }),
              (err: unknown) => ({ err }),
            );
            // The session is used again at once: a stream left behind would fail now.
            const after = await db.query("SELECT 'after' AS w");
            if (after.rows[0]?.w !== "after") problems.push(`next query: ${inspect(after.rows)}`);
            return copy;
          }).catch((err: unknown) => ({ err }));
          if (!("err" in outcome)) problems.push(`COPY was run: ${inspect(outcome)}`);
          else if (!(outcome.err instanceof QueryError && outcome.err.code === "0A000")) {
            problems.push(`not refused: ${inspect(outcome.err)}`);
          }
          const next = await pool.withHandler("g", (db) => db.query("SELECT 1 AS n"));
          if (next.rows[0]?.n !== 1) problems.push(`next call: ${inspect(next.rows)}`);
          await new Promise((r) => setTimeout(r, 200));
        } finally {
          watch.stop();
        }
        for (const e of watch.escaped) problems.push(`escaped: ${inspect(e)}`);
        assert.deepEqual(problems, []);
      });
    }

    // The crash the refusal exists for: postgres.js's copy stream, left alone, throws when its
    // session ends (an uncaught exception on Bun, unhandled rejections on Deno).
    it(
      "end() after a COPY in disguise: nothing escapes",
      async () => {
        const watch = watchEscapes();
        try {
          const own = createPool({
            db: endpointOf(server),
            groups: { g: { connection_count: 1 } },
            driver: makeDriver(),
          });
          await own.withHandler(
            "g",
            (db) =>
              db.query("-- a comment\rCOPY (SELECT g FROM generate_series(1, 100000) g) TO STDOUT"),
          ).catch(() => {});
          await own.end();
          await new Promise((r) => setTimeout(r, 300));
        } finally {
          watch.stop();
        }
        assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
      },
    );
  });
}
