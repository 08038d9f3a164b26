/**
 * Parameters no driver can send (issue 9, items 0 and 16), attacked per
 * driver beyond the values the conformance suite tries: a BigInt inside an
 * object, a revoked Proxy, a Proxy or getter that throws, a Map, a function.
 * Each call rejects with `QueryError` or `TypeError`, in a transactional, an
 * autocommit and a pipelined group alike; nothing escapes; the session
 * serves on; and in a pipelined group the refusals, mixed with good calls in
 * flight, never cross the good calls' results.
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

function badValues(): [string, unknown][] {
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const throwingGetter = {};
  Object.defineProperty(throwingGetter, "a", {
    enumerable: true,
    get() {
      throw new Error("no a for you");
    },
  });
  return [
    ["a BigInt inside an object", { a: 1n }],
    ["a revoked Proxy", revocable.proxy],
    [
      "a Proxy whose traps throw",
      new Proxy({}, {
        ownKeys() {
          throw new Error("no keys");
        },
        get() {
          throw new Error("no get");
        },
      }),
    ],
    ["an object whose getter throws", throwingGetter],
    ["a function", () => 1],
  ];
}

const isRefusal = (err: unknown) => err instanceof QueryError || err instanceof TypeError;

for (const { name, make: makeDriver } of drivers) {
  describe(`parameters no driver can send, over ${name}`, () => {
    let server: TestServer;
    let pool: Pool;

    before(async () => {
      [server] = await sharedServers();
      pool = createPool({
        db: endpointOf(server),
        groups: {
          tx: { connection_count: 1, autocommit: false },
          auto: { connection_count: 1 },
          pipe: { connection_count: 1, pipeline: true },
        },
        driver: makeDriver(),
      });
    });

    after(() => pool.end());

    for (const group of ["tx", "auto", "pipe"]) {
      it(`${group} group: each is refused with QueryError or TypeError; nothing escapes; the session serves on`, async () => {
        const watch = watchEscapes();
        const problems: string[] = [];
        try {
          for (const [what, bad] of badValues()) {
            const outcome = await pool.withHandler(
              group,
              (db) => db.query("SELECT $1::text AS v", [bad]),
            ).then((r) => ({ rows: r.rows }), (err: unknown) => ({ err }));
            if (!("err" in outcome)) problems.push(`${what}: sent as ${inspect(outcome.rows)}`);
            else if (!isRefusal(outcome.err)) problems.push(`${what}: ${inspect(outcome.err)}`);
            const next = await pool.withHandler(group, (db) => db.query("SELECT 1 AS n"))
              .then((r) => r.rows, (err: unknown) => err);
            if (!Array.isArray(next) || next[0]?.n !== 1) {
              problems.push(`${what}: the next call got ${inspect(next)}`);
            }
          }
          await new Promise((r) => setTimeout(r, 150));
        } finally {
          watch.stop();
        }
        for (const e of watch.escaped) problems.push(`escaped: ${inspect(e)}`);
        assert.deepEqual(problems, []);
      });
    }

    it("pipelined group: refusals mixed with calls in flight never cross their results", async () => {
      const watch = watchEscapes();
      const problems: string[] = [];
      try {
        const bad = badValues();
        const calls = Array.from({ length: 60 }, (_, i) => {
          if (i % 4 === 1) {
            const [what, value] = bad[i % bad.length];
            return pool.withHandler("pipe", (db) => db.query("SELECT $1::text AS v", [value]))
              .then(
                () => problems.push(`call ${i} (${what}) was sent`),
                (err: unknown) => {
                  if (!isRefusal(err)) problems.push(`call ${i} (${what}): ${inspect(err)}`);
                },
              );
          }
          return pool.withHandler("pipe", (db) => db.query("SELECT $1::int AS n", [i]))
            .then((r) => {
              if (r.rows[0]?.n !== i) problems.push(`call ${i} got ${inspect(r.rows)}`);
            }, (err: unknown) => problems.push(`call ${i}: ${inspect(err)}`));
        });
        await Promise.all(calls);
        await new Promise((r) => setTimeout(r, 150));
      } finally {
        watch.stop();
      }
      for (const e of watch.escaped) problems.push(`escaped: ${inspect(e)}`);
      assert.deepEqual(problems, []);
    });
  });
}
