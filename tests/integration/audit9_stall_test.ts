/**
 * Hangs and refused logins, attacked per driver (issue 9, items 5, 7, 8a, 13):
 * a caller never waits on a connect to an endpoint that accepts and never
 * answers while another endpoint's session comes free; the caller's own
 * signal wins over a ping into a silent network; `end()` is bounded when
 * every idle session's link goes silent; a missing role is a
 * `ConnectionError` with its SQLSTATE on every driver, not retryable, and no
 * outage.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, createPool, isRetryable, OfflineError, type Pool } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make: makeDriver } of drivers) {
  describe(`stalls and refused logins over ${name}`, () => {
    let server: TestServer;
    let proxy: TestProxy;
    const pools: Pool[] = [];

    before(async () => {
      [server] = await sharedServers();
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await proxy?.close();
    });

    function makePool(config: Record<string, unknown>): Pool {
      // deno-lint-ignore no-explicit-any
      const p = createPool({ driver: makeDriver(), ...config } as any);
      pools.push(p);
      return p;
    }

    it("a caller takes the session another endpoint frees instead of waiting on a connect that never answers", async () => {
      proxy = await startProxy({ target: server });
      proxy.stall();
      const p = makePool({
        db: [
          endpointOf(server, { id: "direct", connect_timeout: 30 }),
          endpointOf(server, {
            id: "silent",
            host: proxy.host,
            port: proxy.port,
            connect_timeout: 30,
          }),
        ],
        groups: { g: { connection_count: 4 } },
      });
      // One live session on the healthy endpoint; every new one may be tried on the silent one.
      await p.withHandler("g", () => 1);
      const started = Date.now();
      const ids = await Promise.all(
        Array.from({ length: 12 }, () =>
          p.withHandler("g", async (db) => {
            await db.query("SELECT pg_sleep(0.02)");
            return db.endpoint.id;
          }, { timeoutMs: 10_000 })),
      );
      const took = Date.now() - started;
      assert.ok(ids.every((id) => id === "direct"), ids.join());
      // connect_timeout is 30 s: a caller that waited on the silent endpoint would take that long.
      assert.ok(took < 10_000, `${took} ms`);
      proxy.pass();
    });

    it("the caller's signal wins over a ping into a silent network", async () => {
      const silent = await startProxy({ target: server });
      try {
        const p = makePool({
          db: endpointOf(server, { host: silent.host, port: silent.port, connect_timeout: 5 }),
          groups: { g: { connection_count: 1 } },
          pingAfterIdleMs: 10,
          pingTimeoutMs: 60_000,
        });
        await p.withHandler("g", () => 1);
        await sleep(50);
        silent.stall();
        let ran = false;
        const controller = new AbortController();
        const reason = new Error("the caller gave up");
        setTimeout(() => controller.abort(reason), 200);
        const started = Date.now();
        await assert.rejects(
          p.withHandler("g", () => {
            ran = true;
          }, { signal: controller.signal }),
          (err) => err === reason,
        );
        assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
        assert.equal(ran, false, "fn ran after its caller gave up");
      } finally {
        silent.pass();
        await silent.close();
      }
    });

    it("end() is bounded when the link of every idle session goes silent", async () => {
      const silent = await startProxy({ target: server });
      const watch = watchEscapes();
      try {
        const p = createPool({
          db: endpointOf(server, { host: silent.host, port: silent.port, connect_timeout: 5 }),
          groups: { g: { connection_count: 3 } },
          driver: makeDriver(),
        });
        await Promise.all(
          Array.from(
            { length: 3 },
            () => p.withHandler("g", (db) => db.query("SELECT pg_sleep(0.05)")),
          ),
        );
        assert.equal(p.stats().groups.g.total, 3);
        silent.silenceOpen();
        const started = Date.now();
        await p.end();
        const took = Date.now() - started;
        console.log(`[${name}] end() with 3 silent sessions: ${took} ms`);
        assert.ok(took < 8_000, `end() took ${took} ms`);
      } finally {
        silent.pass();
        await silent.close();
        await sleep(200);
        watch.stop();
      }
      assert.deepEqual(watch.escaped, []);
    });

    it("a link dropped after startup is a ConnectionError, never OfflineError; the next call is served", async () => {
      const link = await startProxy({ target: server });
      try {
        const p = makePool({
          db: endpointOf(server, { host: link.host, port: link.port, connect_timeout: 5 }),
          groups: { g: { connection_count: 1 } },
        });
        await p.withHandler("g", () => 1);
        await assert.rejects(
          p.withHandler("g", async (db) => {
            link.drop();
            await db.query("SELECT pg_sleep(0.2)");
          }),
          (err) => {
            assert.ok(
              err instanceof ConnectionError && !(err instanceof OfflineError),
              String(err),
            );
            return true;
          },
        );
        assert.equal(await p.withHandler("g", () => 2), 2);
        assert.equal(p.stats().endpoints[0].up, true);
      } finally {
        await link.close();
      }
    });

    it("30 concurrent callers with a wrong password: each a refused login (28P01), none an outage", async () => {
      const p = makePool({
        db: endpointOf(server, { pass: "audit9-wrong-too" }),
        groups: { g: { connection_count: 4 } },
      });
      const outcomes = await Promise.all(
        Array.from(
          { length: 30 },
          () =>
            p.withHandler("g", () => 1, { timeoutMs: 5_000 }).then(() => "resolved", (err) => err),
        ),
      );
      for (const err of outcomes) {
        assert.ok(err instanceof ConnectionError && !(err instanceof OfflineError), String(err));
        assert.equal(err.code, "28P01");
      }
      assert.equal(p.stats().endpoints[0].up, true);
    });

    it("a missing role is a ConnectionError with code 28000, not retryable, endpoint not marked down", async () => {
      const p = makePool({
        db: endpointOf(server, { user: "audit9_no_such_role", pass: "x" }),
        groups: { g: { connection_count: 2 } },
      });
      for (let i = 0; i < 2; i++) {
        await assert.rejects(p.withHandler("g", () => 1), (err) => {
          assert.ok(err instanceof ConnectionError && !(err instanceof OfflineError), String(err));
          // The server answers a missing role as it answers a wrong password (28P01) unless
          // it trusts the address: either way a refused login, never an outage.
          assert.ok(err.code === "28000" || err.code === "28P01", String(err.code));
          assert.equal(isRetryable(err), false);
          return true;
        });
      }
      assert.equal(p.stats().endpoints[0].up, true);
      assert.equal(p.stats().endpoints[0].failures, 0);
    });

    it("a wrong password through pool.open() and pool.lease() is the same refused login", async () => {
      const p = makePool({
        db: endpointOf(server, { pass: "audit9-wrong" }),
        groups: { g: { connection_count: 2 } },
      });
      for (const attempt of [() => p.open(), () => p.lease("g")]) {
        await assert.rejects(attempt(), (err) => {
          assert.ok(err instanceof ConnectionError && !(err instanceof OfflineError), String(err));
          assert.equal(err.code, "28P01");
          assert.equal(isRetryable(err), false);
          assert.ok(!JSON.stringify(err).includes("audit9-wrong"));
          assert.ok(!String(err.message).includes("audit9-wrong"));
          return true;
        });
      }
      assert.equal(p.stats().endpoints[0].up, true);
    });
  });
}
