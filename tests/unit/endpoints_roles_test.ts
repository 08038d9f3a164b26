import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, OfflineError, type Pool, QueryError } from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { type Built, endAll, RoleDriver } from "./endpoints_support.ts";
import { serves } from "../../src/endpoints/roles.ts";
import type { TargetSessionAttrs } from "../../src/config/normalize.ts";

const A = { host: "a", port: 5432, name: "app", user: "u" };
const B = { host: "b", port: 5432, name: "app", user: "u" };
const PRIMARY = { inRecovery: false, readOnly: false };
const STANDBY = { inRecovery: true, readOnly: false };
const READ_ONLY_PRIMARY = { inRecovery: false, readOnly: true };

const made: Built[] = [];

function setup(
  groups: Record<string, Record<string, unknown>>,
  options: { db?: object[]; reports?: boolean } = {},
) {
  const driver = new RoleDriver();
  driver.reports = options.reports ?? true;
  driver.roles.set("b:5432", { standby: true });
  const clock = new FakeClock();
  // deno-lint-ignore no-explicit-any
  const pool = createPool({ db: options.db ?? [A, B], groups: groups as any, driver }, { clock });
  const m = { pool, driver, clock };
  made.push(m);
  return m;
}

afterEach(() => endAll(made));

async function whereFrom(pool: Pool, group: string): Promise<string> {
  return await pool.withHandler(group, (db) => db.endpoint.id);
}

describe("serves()", () => {
  it("matches libpq's target_session_attrs semantics", () => {
    const table: [TargetSessionAttrs, boolean, boolean, boolean][] = [
      // target, primary, standby, primary with default_transaction_read_only
      ["any", true, true, true],
      ["read-write", true, false, false],
      ["read-only", false, true, true],
      ["primary", true, false, true],
      ["standby", false, true, false],
      ["prefer-standby", false, true, false],
    ];
    for (const [target, p, s, ro] of table) {
      assert.equal(serves(PRIMARY, target, false), p, `${target} on a primary`);
      assert.equal(serves(STANDBY, target, false), s, `${target} on a standby`);
      assert.equal(
        serves(READ_ONLY_PRIMARY, target, false),
        ro,
        `${target} on a read-only primary`,
      );
    }
    assert.equal(
      serves(PRIMARY, "prefer-standby", true),
      true,
      "prefer-standby falls back to a primary",
    );
  });
});

for (const reports of [true, false]) {
  const how = reports ? "reported as parameters" : "learned with a query";
  describe(`Pool roles (${how})`, () => {
    it("sends each group to the servers its target_session_attrs asks for", async () => {
      const { pool } = setup({
        any: { connection_count: 4 },
        rw: { connection_count: 2, target_session_attrs: "read-write" },
        ro: { connection_count: 2, target_session_attrs: "read-only" },
        primary: { connection_count: 2, targetSessionAttrs: "primary" },
        standby: { connection_count: 2, target_session_attrs: "standby" },
        prefer: { connection_count: 2, target_session_attrs: "prefer-standby" },
      }, { reports });
      for (let i = 0; i < 4; i++) {
        assert.equal(await whereFrom(pool, "rw"), "a:5432");
        assert.equal(await whereFrom(pool, "primary"), "a:5432");
        assert.equal(await whereFrom(pool, "ro"), "b:5432");
        assert.equal(await whereFrom(pool, "standby"), "b:5432");
        assert.equal(await whereFrom(pool, "prefer"), "b:5432");
      }
      const seen = new Set<string>();
      await Promise.all([1, 2, 3, 4].map(() =>
        pool.withHandler("any", async (db) => {
          seen.add(db.endpoint.id);
          await new Promise((r) => setTimeout(r, 1));
        })
      ));
      assert.deepEqual([...seen].sort(), ["a:5432", "b:5432"]);
      const eps = pool.stats().endpoints;
      assert.deepEqual(eps.map((e) => [e.id, e.role]), [["a:5432", "primary"], [
        "b:5432",
        "standby",
      ]]);
    });

    it("db.endpoint is { id, host, port, role }", async () => {
      const { pool } = setup({ s: { connection_count: 1, target_session_attrs: "standby" } }, {
        reports,
        db: [A, { ...B, id: "replica" }],
      });
      const ep = await pool.withHandler("s", (db) => ({ ...db.endpoint }));
      assert.deepEqual(ep, { id: "replica", host: "b", port: 5432, role: "standby" });
    });

    it("read-write refuses a primary with default_transaction_read_only; primary takes it", async () => {
      const { pool, driver } = setup({
        rw: { connection_count: 1, target_session_attrs: "read-write" },
        p: { connection_count: 1, target_session_attrs: "primary" },
      }, { reports, db: [A] });
      driver.roles.set("a:5432", { standby: false, readOnly: true });
      assert.equal(await whereFrom(pool, "p"), "a:5432");
      await assert.rejects(pool.withHandler("rw", () => 1), (err) => {
        assert.ok(err instanceof OfflineError, String(err));
        assert.match(err.message, /group "rw"/);
        assert.match(err.message, /"read-write"/);
        return true;
      });
    });

    it("no matching endpoint: OfflineError naming group and target, at once", async () => {
      const { pool, driver } = setup({
        s: { connection_count: 2, target_session_attrs: "standby" },
      }, {
        reports,
        db: [A],
      });
      await assert.rejects(pool.withHandler("s", () => 1), (err) => {
        assert.ok(err instanceof OfflineError);
        assert.match(err.message, /group "s" \(target_session_attrs "standby"\)/);
        assert.match(err.message, /a:5432 \(primary\)/);
        return true;
      });
      // Rate-limited: the next call within the window connects nowhere.
      const attempts = driver.fake.connectAttempts.length;
      await assert.rejects(pool.withHandler("s", () => 1), OfflineError);
      assert.equal(driver.fake.connectAttempts.length, attempts);
      assert.equal(pool.stats().groups.s.total, 0);
    });

    it("prefer-standby takes a primary while no standby is reachable, and a standby again once it is", async () => {
      const { pool, driver, clock } = setup(
        { prefer: { connection_count: 1, target_session_attrs: "prefer-standby" } },
        { reports },
      );
      driver.fake.down.add("b:5432");
      assert.equal(await whereFrom(pool, "prefer"), "a:5432");
      driver.fake.down.delete("b:5432");
      clock.advance(60_000);
      // The standby is learned when a session opens there; the primary's session then retires.
      await pool.withHandler("prefer", () => 1);
      await pool.withHandler("prefer", () => 1);
      assert.equal(await whereFrom(pool, "prefer"), "b:5432");
    });

    it("groups bound by id stay on their endpoints, even when those are down", async () => {
      const { pool, driver } = setup({
        onlyB: { connection_count: 2, endpoints: ["b:5432"] },
        onlyA: { connection_count: 2, endpoints: ["a:5432"] },
      }, { reports });
      for (let i = 0; i < 4; i++) {
        assert.equal(await whereFrom(pool, "onlyB"), "b:5432");
        assert.equal(await whereFrom(pool, "onlyA"), "a:5432");
      }
      driver.fake.down.add("b:5432");
      for (const s of driver.fake.sessions) if (s.endpoint === "b:5432") s.kill();
      await assert.rejects(pool.withHandler("onlyB", () => 1), OfflineError);
      assert.equal(
        driver.fake.sessions.filter((s) => s.endpoint === "a:5432").length,
        1,
        "onlyB never opened a session on a",
      );
    });

    it("stop the primary: the primary group fails fast while the standby group serves; a promotion is picked up", async () => {
      const { pool, driver, clock } = setup({
        w: { connection_count: 2, target_session_attrs: "primary" },
        r: { connection_count: 2, target_session_attrs: "standby" },
      }, { reports });
      assert.equal(await whereFrom(pool, "w"), "a:5432");
      assert.equal(await whereFrom(pool, "r"), "b:5432");
      driver.fake.down.add("a:5432");
      for (const s of driver.fake.sessions) if (s.endpoint === "a:5432") s.kill();
      await assert.rejects(pool.withHandler("w", () => 1), (err) => {
        assert.ok(err instanceof OfflineError);
        assert.match(err.message, /b:5432 \(standby\)/);
        return true;
      });
      assert.equal(await whereFrom(pool, "r"), "b:5432");
      // pg_promote() on b: the primary group finds it (a failed connect makes roles due again).
      driver.setRole("b:5432", { standby: false });
      clock.advance(300); // the rate limit of role checks
      assert.equal(await whereFrom(pool, "w"), "b:5432");
      // The standby group's session on b is not handed out any more.
      await assert.rejects(pool.withHandler("r", () => 1), OfflineError);
      const insert = await pool.withHandler("w", (db) => db.query("INSERT INTO t VALUES (1)"));
      assert.equal(insert.command, "INSERT");
    });

    it("an idle session that has not yet heard of a promotion is not handed to the standby group", async () => {
      const { pool, driver, clock } = setup({
        w: { connection_count: 1, target_session_attrs: "primary" },
        r: { connection_count: 1, target_session_attrs: "standby" },
      }, { reports, db: [B] });
      assert.equal(await whereFrom(pool, "r"), "b:5432");
      // Promoted; the idle session's parameters still say standby (the server
      // reports the change only with the reply to its next query).
      driver.roles.set("b:5432", { standby: false });
      clock.advance(300);
      assert.equal(await whereFrom(pool, "w"), "b:5432");
      assert.equal(pool.stats().endpoints[0].role, "primary");
      await assert.rejects(pool.withHandler("r", () => 1), OfflineError);
      assert.equal(pool.stats().endpoints[0].role, "primary", "a stale report does not undo it");
    });

    it("a pipelined group drops a shared session whose server reported a role change", {
      skip: reports
        ? false
        : "without reported parameters a role change is seen on a connect, a failure or 25006",
    }, async () => {
      const { pool, driver } = setup({
        r: { connection_count: 2, target_session_attrs: "standby", pipeline: true },
      }, { reports, db: [B] });
      assert.equal(await whereFrom(pool, "r"), "b:5432");
      driver.setRole("b:5432", { standby: false });
      await assert.rejects(pool.withHandler("r", () => 1), OfflineError);
      assert.equal(driver.fake.open.size, 0, "the session on the new primary is closed");
    });

    it("a role that did not match is checked again after the rate limit, without a failure", async () => {
      const { pool, driver, clock } = setup(
        { w: { connection_count: 2, target_session_attrs: "primary" } },
        { reports, db: [B] },
      );
      await assert.rejects(pool.withHandler("w", () => 1), OfflineError);
      driver.setRole("b:5432", { standby: false });
      clock.advance(300);
      assert.equal(await whereFrom(pool, "w"), "b:5432");
    });

    it("a demotion (reported, or shown by 25006) keeps a read-write group off the server", async () => {
      const { pool, driver } = setup({
        w: { connection_count: 1, target_session_attrs: "read-write" },
      }, {
        reports,
        db: [A],
      });
      assert.equal(await whereFrom(pool, "w"), "a:5432");
      if (reports) {
        // The server reports the demotion on the session itself: it is not handed out again.
        driver.setRole("a:5432", { standby: true });
      } else {
        // Without reported parameters, the refused write is the sign.
        driver.roles.set("a:5432", { standby: true });
        await assert.rejects(
          pool.withHandler("w", (db) => db.query("INSERT INTO t VALUES (1)")),
          (err) => err instanceof QueryError && err.code === "25006",
        );
        assert.equal(pool.stats().endpoints[0].role, "unknown");
      }
      await assert.rejects(pool.withHandler("w", () => 1), OfflineError);
      assert.equal(pool.stats().endpoints[0].role, "standby");
    });
  });
}

describe("Pool roles: no extra round trip", () => {
  it("reads the role from parameters, and queries only when they are missing and a group needs it", async () => {
    const a = setup({ w: { connection_count: 1, target_session_attrs: "primary" } }, {
      reports: true,
    });
    await a.pool.withHandler("w", () => 1);
    assert.equal(a.driver.roleQueries, 0);
    const b = setup({ g: { connection_count: 1 } }, { reports: false });
    await b.pool.withHandler("g", () => 1);
    assert.equal(b.driver.roleQueries, 0, "no query when every group takes any server");
    const c = setup({ w: { connection_count: 1, target_session_attrs: "primary" } }, {
      reports: false,
    });
    await c.pool.withHandler("w", () => 1);
    assert.equal(c.driver.roleQueries, 1);
  });
});
