/**
 * A stalled ping (the idle session's socket goes silent behind the test
 * proxy) and a caller's `signal`, per driver: the signal wins at once (its
 * reason, `fn` never runs), the session is broken at `pingTimeoutMs` and its
 * slot freed, so the next caller is served by a new session; an aborted
 * caller during a stalled connect also gets its reason at once.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make: makeDriver } of runtimeDrivers()) {
  describe(`a stalled ping and a caller's signal over ${name}`, () => {
    let server: TestServer;
    let proxy: TestProxy;
    const pools: Pool[] = [];

    before(async () => {
      [server] = await sharedServers();
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    function pool(pingTimeoutMs: number): Pool {
      const p = createPool({
        db: [endpointOf(server, { host: proxy.host, port: proxy.port, connect_timeout: 5 })],
        groups: { g: { connection_count: 1 } },
        driver: makeDriver(),
        pingAfterIdleMs: 0,
        pingTimeoutMs,
      });
      pools.push(p);
      return p;
    }

    const pid = (p: Pool, opts = {}) =>
      p.withHandler("g", async (db) => {
        const { rows } = await db.query("select pg_backend_pid() as pid");
        return Number(rows[0].pid);
      }, opts);

    it("the signal wins over a stalled ping; the slot is freed at pingTimeoutMs", async () => {
      proxy = await startProxy({ target: server });
      try {
        const p = pool(800);
        const before = await pid(p);
        proxy.silenceOpen();
        await sleep(5);
        const ac = new AbortController();
        const reason = new Error("caller gave up");
        let ran = false;
        const t0 = Date.now();
        const call = p.withHandler("g", () => (ran = true), { signal: ac.signal });
        setTimeout(() => ac.abort(reason), 100);
        await assert.rejects(call, (err) => err === reason);
        const abortMs = Date.now() - t0;
        assert.ok(abortMs < 600, `the aborted caller waited ${abortMs} ms`);
        assert.equal(ran, false);
        // The one slot comes back once the ping gives up; a new session serves.
        const t1 = Date.now();
        const after = await pid(p, { timeoutMs: 5000 });
        const nextMs = Date.now() - t1;
        console.log(
          `[${name}] stalled ping: abort honoured in ${abortMs} ms, next caller served in ${nextMs} ms`,
        );
        assert.notEqual(after, before);
        assert.equal(p.stats().groups.g.total, 1);
        await p.end();
      } finally {
        await proxy.close();
      }
    });

    it("a signal already aborted never touches the stalled session", async () => {
      proxy = await startProxy({ target: server });
      try {
        const p = pool(60_000);
        await pid(p);
        proxy.silenceOpen();
        const reason = new Error("already gone");
        const t0 = Date.now();
        await assert.rejects(
          p.withHandler("g", () => 1, { signal: AbortSignal.abort(reason) }),
          (err) => err === reason,
        );
        assert.ok(Date.now() - t0 < 200);
        await p.end();
      } finally {
        await proxy.close();
      }
    });

    it("the signal wins over a stalled connect", async () => {
      proxy = await startProxy({ target: server });
      try {
        proxy.stall();
        const p = pool(300);
        const ac = new AbortController();
        const reason = new Error("no more waiting");
        const t0 = Date.now();
        const call = p.withHandler("g", () => 1, { signal: ac.signal });
        setTimeout(() => ac.abort(reason), 150);
        await assert.rejects(call, (err) => err === reason);
        const ms = Date.now() - t0;
        assert.ok(ms < 700, `the aborted caller waited ${ms} ms (connect_timeout 5 s)`);
        proxy.pass();
        assert.equal(typeof (await pid(p, { timeoutMs: 8000 })), "number");
        await p.end();
      } finally {
        await proxy.close();
      }
    });
  });
}
