/**
 * Roles and failover on a real primary and a hot standby streaming from it,
 * per driver: each target_session_attrs value, read-write vs primary on a
 * read-only-by-default primary, groups bound by id, the primary stopped (the
 * primary group fails fast, the standby group serves), and pg_promote() (the
 * primary group serves from the new primary; the time is printed).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, OfflineError, type Pool, QueryError } from "../../mod.ts";
import {
  adminQuery,
  type PrivateTestServer,
  type StandbyTestServer,
  startPrivateServer,
  startPrivateStandby,
} from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

const ALL_TARGETS = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"];

for (const { name, make: makeDriver } of drivers) {
  describe(`failover and roles over ${name} on a primary and a streaming standby`, () => {
    let primary: PrivateTestServer;
    let standby: StandbyTestServer;
    const pools: Pool[] = [];

    function pool(groups: Record<string, Record<string, unknown>>, db?: object[]): Pool {
      const p = createPool({
        db: db ?? [
          endpointOf(primary, { id: "primary", connect_timeout: 2 }),
          endpointOf(standby, { id: "standby", connect_timeout: 2 }),
        ],
        // deno-lint-ignore no-explicit-any
        groups: groups as any,
        driver: makeDriver(),
      });
      pools.push(p);
      return p;
    }

    before(async () => {
      primary = await startPrivateServer();
      await adminQuery(primary, "CREATE TABLE failover_t (id serial primary key, at text)");
      await adminQuery(
        primary,
        "CREATE ROLE ro_user LOGIN SUPERUSER PASSWORD 'ro-pass'; ALTER ROLE ro_user SET default_transaction_read_only = on",
      );
      standby = await startPrivateStandby(primary);
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await standby?.dispose();
      await primary?.dispose();
    });

    it("each target_session_attrs value lands on the servers it names", async () => {
      const groups: Record<string, Record<string, unknown>> = {};
      for (const t of ALL_TARGETS) groups[t] = { connection_count: 2, target_session_attrs: t };
      const p = pool(groups);
      const want: Record<string, string[]> = {
        "any": ["primary", "standby"],
        "read-write": ["primary"],
        "read-only": ["standby"],
        "primary": ["primary"],
        "standby": ["standby"],
        "prefer-standby": ["standby"],
      };
      for (const t of ALL_TARGETS) {
        const seen = new Set<string>();
        await Promise.all(Array.from({ length: 6 }, () =>
          p.withHandler(t, async (db) => {
            const { rows } = await db.query("select pg_is_in_recovery() as r");
            assert.equal(
              rows[0].r,
              db.endpoint.id === "standby",
              `${t}: role of ${db.endpoint.id}`,
            );
            seen.add(db.endpoint.id);
            await new Promise((r) => setTimeout(r, 5));
          })));
        if (t === "any") assert.ok(seen.size >= 1);
        else assert.deepEqual([...seen].sort(), want[t], t);
      }
      const roles = p.stats().endpoints.map((e) => [e.id, e.role]);
      assert.deepEqual(roles, [["primary", "primary"], ["standby", "standby"]]);
    });

    it("read-write refuses a primary whose default_transaction_read_only is on; primary takes it", async () => {
      const ro = {
        ...endpointOf(primary, { connect_timeout: 2 }),
        user: "ro_user",
        pass: "ro-pass",
      };
      const p = pool({
        rw: { connection_count: 1, target_session_attrs: "read-write" },
        p: { connection_count: 1, target_session_attrs: "primary" },
        r: { connection_count: 1, target_session_attrs: "read-only" },
      }, [ro]);
      const ep = await p.withHandler("p", (db) => ({ ...db.endpoint }));
      assert.equal(ep.role, "primary");
      assert.equal(await p.withHandler("r", (db) => db.endpoint.role), "primary");
      await assert.rejects(p.withHandler("rw", () => 1), (err) => {
        assert.ok(err instanceof OfflineError, String(err));
        assert.match(err.message, /group "rw" \(target_session_attrs "read-write"\)/);
        return true;
      });
    });

    it("groups bound by id stay on their endpoints", async () => {
      const p = pool({
        w: { connection_count: 3, endpoints: ["primary"] },
        r: { connection_count: 3, endpoints: ["standby"] },
      });
      for (let i = 0; i < 10; i++) {
        const [w, r] = await Promise.all([
          p.withHandler("w", (db) => db.query("select pg_is_in_recovery() as r")),
          p.withHandler("r", (db) => db.query("select pg_is_in_recovery() as r")),
        ]);
        assert.equal(w.rows[0].r, false);
        assert.equal(r.rows[0].r, true);
      }
      const eps = p.stats().endpoints;
      assert.deepEqual(eps.map((e) => e.connections), [
        p.stats().groups.w.total,
        p.stats().groups.r.total,
      ]);
    });

    it("primary stopped: the primary group fails fast, the standby group serves; pg_promote(): the primary group serves from the new primary within a second", async () => {
      const p = pool({
        w: { connection_count: 2, target_session_attrs: "primary" },
        r: { connection_count: 2, target_session_attrs: "standby" },
      });
      await p.withHandler("w", (db) => db.query("insert into failover_t (at) values ('before')"));
      await p.withHandler("r", (db) => db.query("select 1"));
      await primary.stop();
      const t0 = Date.now();
      await assert.rejects(
        p.withHandler("w", (db) => db.query("insert into failover_t (at) values ('down')")),
        (err) => {
          // The session in hand may be lost mid-query; the next lease must be OfflineError.
          return err instanceof OfflineError || (err as Error).name === "ConnectionError";
        },
      );
      await assert.rejects(p.withHandler("w", () => 1), (err) => {
        assert.ok(err instanceof OfflineError, String(err));
        assert.match(err.message, /group "w" \(target_session_attrs "primary"\)/);
        return true;
      });
      const failFastMs = Date.now() - t0;
      assert.ok(
        failFastMs < 2000,
        `primary group took ${failFastMs} ms to fail (connect_timeout 2 s)`,
      );
      for (let i = 0; i < 5; i++) {
        assert.equal(await p.withHandler("r", (db) => db.endpoint.id), "standby");
      }
      await assert.rejects(
        p.withHandler("r", (db) => db.query("insert into failover_t (at) values ('ro')")),
        (err) => err instanceof QueryError && err.code === "25006",
      );

      const promoting = Date.now();
      await standby.promote();
      let servedAt = 0;
      let where = "";
      while (!servedAt) {
        try {
          where = await p.withHandler("w", async (db) => {
            await db.query("insert into failover_t (at) values ('after')");
            return db.endpoint.id;
          });
          servedAt = Date.now();
        } catch (err) {
          if (!(err instanceof OfflineError || (err as Error).name === "ConnectionError")) {
            throw err;
          }
          assert.ok(
            Date.now() - promoting < 10_000,
            `still failing 10 s after pg_promote(): ${err}`,
          );
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      const ms = servedAt - promoting;
      console.log(
        `[${name}] pg_promote() to the primary group serving from the new primary: ${ms} ms`,
      );
      assert.equal(where, "standby");
      assert.ok(ms < 1000, `promotion to serving took ${ms} ms`);
      const rows = await adminQuery(
        standby,
        "select count(*)::int as n from failover_t where at = 'after'",
      );
      assert.equal(rows[0].n, 1, "the write committed on the new primary");
      assert.equal(p.stats().endpoints[1].role, "primary");
      // The standby group has no standby any more.
      await assert.rejects(p.withHandler("r", () => 1), OfflineError);
    });
  });
}
