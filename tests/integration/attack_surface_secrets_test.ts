/**
 * The password never shows, on the paths `secrets_test.ts` does not walk:
 * every pool event (not only `leak`), TLS refused by a server without it, a
 * host that does not resolve, `pool.open()`, `pool.listen()`,
 * `pool.setEndpoints()`, a `pass` function, the handle `pool.share()` gives a
 * Worker, and passwords full of unicode, quotes and backslashes, right and
 * wrong, over every driver of this runtime. The cases of one driver run at
 * once.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  assertHidden as assertHiddenIn,
  rejection,
  renderings,
} from "../support/secret_renderings.ts";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import {
  ConfigError,
  ConnectionError,
  createPool,
  OfflineError,
  type Pool,
  type PoolConfigInput,
  PoolError,
} from "../../mod.ts";
import { adminQuery, freePort, sharedServers, type TestServer } from "../support/servers.ts";
import { runtimeDrivers, withDenoPostgres } from "../support/drivers.ts";

const PART_A = `qa${randomBytes(5).toString("hex")}`;
const PART_B = `qb${randomBytes(5).toString("hex")}`;
/** Unicode, quotes, a backslash and URL-special characters around two searchable parts. */
const SECRET = `${PART_A}ä'"\\ß😀@:/%?#${PART_B}`;
const SECRET_URL = encodeURIComponent(SECRET);
const NEEDLES = [PART_A, PART_B, encodeURIComponent(PART_A + "ä")];
const EVENTS = [
  "sessionopen",
  "sessionclose",
  "endpointdown",
  "endpointup",
  "leasewait",
  "leak",
  "unreleased",
  "clockleap",
  "notice",
  "listenlost",
  "listenrestored",
];

/** Fails when any part of the secret shows in `value` (see tests/support/secret_renderings.ts). */
function assertHidden(value: unknown, where: string): void {
  assertHiddenIn(value, where, NEEDLES);
}

const server: TestServer = (await sharedServers())[0];
const drivers = await withDenoPostgres(runtimeDrivers());

for (const driver of drivers) {
  describe(`secrets over ${driver.name}, past secrets_test`, () => {
    const role = `pgdbpool_surface_${randomBytes(4).toString("hex")}`;
    const pools: Pool[] = [];
    const details: [string, unknown][] = [];

    before(async () => {
      await adminQuery(
        server,
        `CREATE ROLE ${role} LOGIN PASSWORD '${SECRET.replaceAll("'", "''")}'`,
      );
    });

    after(async () => {
      await Promise.allSettled(pools.map((p) => p.end()));
      for (const [type, detail] of details) assertHidden(detail, `a ${type} event's detail`);
      await adminQuery(server, `DROP ROLE IF EXISTS ${role}`).catch(() => {});
    });

    function pool(db: PoolConfigInput["db"], extra: Partial<PoolConfigInput> = {}): Pool {
      const p = createPool({
        db,
        groups: { g: { connection_count: 2 }, shared: { connection_count: 1, pipeline: true } },
        driver: driver.make(),
        acquireTimeoutMs: 8_000,
        reconnectBaseMs: 10,
        ...extra,
      });
      for (const type of EVENTS) {
        p.addEventListener(type, (e) => details.push([type, (e as CustomEvent).detail]));
      }
      pools.push(p);
      return p;
    }

    /** Everything a pool shows of itself. */
    function assertPoolHidden(p: Pool, when: string): void {
      assertHidden(p, `the pool ${when}`);
      assertHidden(p.stats(), `stats() ${when}`);
    }

    const at = () => `${server.host}:${server.port}/${server.database}`;
    const roleUrl = () => `postgres://${role}:${SECRET_URL}@${at()}`;

    it("a password of unicode, quotes and a backslash logs in, from a URL, an object and a pass function", async () => {
      const object = { host: server.host, port: server.port, name: server.database, user: role };
      await Promise.all(
        [roleUrl(), { ...object, pass: SECRET }, { ...object, pass: () => SECRET }].map(
          async (db) => {
            const p = pool(db);
            const { rows } = await p.withHandler("g", (h) => h.query("SELECT current_user AS u"));
            assert.equal(rows[0].u, role);
            assertPoolHidden(p, "after a login");
          },
        ),
      );
    });

    it("refused logins of every kind hide it: wrong password, open(), listen(), a pipelined group, a pass function", async () => {
      const wrong = `postgres://${role}:${
        encodeURIComponent(`${SECRET}x`)
      }@${at()}?connect_timeout=5`;
      const wrongFn = {
        host: server.host,
        port: server.port,
        name: server.database,
        user: role,
        pass: () => `${SECRET}x`,
      };
      await Promise.all([wrong, wrongFn].flatMap((db) => {
        const p = pool(db as PoolConfigInput["db"]);
        return [
          rejection(p.withHandler("g", (h) => h.query("SELECT 1"))),
          rejection(p.withHandler("shared", (h) => h.query("SELECT 1"))),
          rejection(p.open()),
          rejection(p.listen("surface_chan", () => {})),
        ].map(async (pending, i) => {
          const err = await pending;
          assert.ok(
            err instanceof PoolError,
            `case ${i}: expected a PoolError, got ${inspect(err)}`,
          );
          assertHidden(err, `the error of refused login ${i}`);
          assertPoolHidden(p, `after refused login ${i}`);
        });
      }));
    });

    it("TLS the server does not offer (sslmode require, verify-full): the error, stats and events hide it", async () => {
      await Promise.all(["require", "verify-full"].map(async (mode) => {
        const p = pool(`${roleUrl()}?sslmode=${mode}&connect_timeout=5`);
        const err = await rejection(p.withHandler("g", (h) => h.query("SELECT 1")));
        assert.ok(
          err instanceof ConnectionError || err instanceof OfflineError,
          `${mode}: got ${inspect(err)}`,
        );
        assertHidden(err, `the error of sslmode ${mode}`);
        assertPoolHidden(p, `after sslmode ${mode} failed`);
      }));
    });

    it("a refused port, a host that does not resolve, and the endpoint coming back: errors, stats and endpointup hide it", async () => {
      const down = await freePort();
      const p = pool(
        `postgres://${role}:${SECRET_URL}@127.0.0.1:${down},nohost-${role}.invalid:5432/${server.database}?connect_timeout=3`,
      );
      const err = await rejection(p.withHandler("g", (h) => h.query("SELECT 1")));
      assert.ok(err instanceof OfflineError, `got ${inspect(err)}`);
      assert.ok(renderings(err).join("\n").includes(`127.0.0.1:${down}`), "names the endpoint");
      assertHidden(err, "the OfflineError of a refused port and an unknown host");
      assertPoolHidden(p, "after both endpoints failed");
      // Swap in the real server: endpointup/sessionopen details must hide it too.
      p.setEndpoints(roleUrl());
      const { rows } = await p.withHandler("g", (h) => h.query("SELECT 1 AS one"));
      assert.equal(rows[0].one, 1);
      assertPoolHidden(p, "after setEndpoints()");
    });

    it("setEndpoints() with a malformed URL, and the handle share() gives a Worker, hide it", async () => {
      const p = pool(roleUrl(), { type: "threaded" });
      for (
        const bad of [
          `${roleUrl()}\n`,
          `${roleUrl()}?sslmode=on`,
          `postgres://${role}:${SECRET}@h:x/db`,
        ]
      ) {
        const err = (() => {
          try {
            p.setEndpoints(bad);
          } catch (e) {
            return e;
          }
          return assert.fail("setEndpoints() accepted a malformed URL");
        })();
        assert.ok(err instanceof ConfigError, `got ${inspect(err)}`);
        assertHidden(err, `the ConfigError of setEndpoints(${JSON.stringify(bad.slice(-12))})`);
      }
      const handle = p.share();
      assertHidden(handle, "the handle of pool.share()");
      assertHidden(structuredClone(handle), "a structured clone of the handle");
      const { rows } = await p.withHandler("g", (h) => h.query("SELECT current_user AS u"));
      assert.equal(rows[0].u, role);
    });
  });
}
