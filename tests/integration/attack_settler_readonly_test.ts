/**
 * A write refused with 25006 (`read_only_sql_transaction`) on a group that
 * needs a primary: the settle path translates it into a QueryError for the
 * caller and has the endpoint's role learned again; under 20 concurrent
 * callers, half of them writing, on exclusive and pipelined groups. The
 * server stays a primary (the role only defaults to read-only
 * transactions), so the pool serves on. Every driver of the runtime.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { createPool, QueryError } from "../../mod.ts";
import { adminQuery } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { serverScope } from "../support/server_scope.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const drivers = await withDenoPostgres(runtimeDrivers());

describe("a write refused with 25006 reaches the caller translated", () => {
  const suffix = Date.now() % 100000;
  const role = `attack_settler_ro_${suffix}`;
  const table = `attack_settler_ro_t_${suffix}`;
  const password = `pw_${suffix}`;
  const scope = serverScope({
    async setUp(server) {
      await adminQuery(server, `CREATE TABLE ${table} (id int)`);
      await adminQuery(server, `CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await adminQuery(server, `ALTER ROLE ${role} SET default_transaction_read_only = on`);
      await adminQuery(server, `GRANT ALL ON ${table} TO ${role}`);
    },
    async tearDown(server) {
      await adminQuery(server, `DROP TABLE IF EXISTS ${table}`);
      await adminQuery(server, `DROP ROLE IF EXISTS ${role}`);
    },
  });

  for (const { name, make } of drivers) {
    for (const pipeline of [false, true]) {
      it(`${name}, ${pipeline ? "pipelined" : "exclusive"}: 20 callers, half writing`, {
        timeout: 30_000,
      }, async () => {
        const pool = scope.keep(createPool({
          db: endpointOf(scope.server, { user: role, pass: password }),
          groups: {
            g: {
              connection_count: 2,
              autocommit: true,
              pipeline,
              target_session_attrs: "primary",
            },
          },
          driver: make(),
          pingAfterIdleMs: 0,
        }));
        await withoutEscapes(async () => {
          for (let round = 0; round < 2; round++) {
            const outcomes = await Promise.all(
              Array.from(
                { length: 20 },
                (_, i) =>
                  pool.withHandler(
                    "g",
                    async (db) =>
                      i % 2 === 0
                        ? (await db.query(`INSERT INTO ${table} VALUES (${i})`)).rowCount
                        : (await db.query<{ n: number }>("SELECT $1::int AS n", [i])).rows[0].n,
                  )
                    .catch((e) => e),
              ),
            );
            outcomes.forEach((o, i) => {
              if (i % 2 === 0) {
                assert.ok(o instanceof QueryError && o.code === "25006", `${i}: ${inspect(o)}`);
              } else assert.equal(o, i, `${i}: ${inspect(o)}`);
            });
          }
          const rows = await adminQuery(scope.server, `SELECT count(*)::int AS n FROM ${table}`);
          assert.equal(rows[0].n, 0);
          assert.equal(pool.stats().groups.g.leased, 0);
          assert.deepEqual(pool.stats().endpoints.map((e) => e.up), [true]);
        }, 50);
      });
    }
  }
});
