/**
 * Aborts in a pipelined group, on a real server: a caller whose signal aborts
 * while its query runs on a shared session, and what the callers sharing that
 * session see.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { withoutEscapes } from "../support/escapes.ts";
import { serverScope } from "../support/server_scope.ts";
import { appName, until } from "../support/backend_probe.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, make } of runtimeDrivers()) {
  describe(`aborts in a pipelined group over ${name}`, () => {
    const scope = serverScope();

    function makePool(): Pool {
      return scope.keep(createPool({
        db: endpointOf(scope.server, { application_name: appName(`atk_picka_${name}`) }),
        groups: { default: { connection_count: 1, pipeline: true } },
        driver: make(),
        acquireTimeoutMs: 3000,
      }));
    }

    it("one caller aborted mid-query rejects at once with its reason; the callers sharing its session are unharmed", () =>
      withoutEscapes(async () => {
        const pool = makePool();
        await pool.query("SELECT 1");
        const ac = new AbortController();
        const reason = new Error("caller gave up");
        const others = Array.from(
          { length: 10 },
          () => pool.query("SELECT pg_sleep(0.1)").then(() => "ok", (e: unknown) => String(e)),
        );
        const mine = pool.query("SELECT pg_sleep(0.1)", [], { signal: ac.signal }).then(
          () => "resolved",
          (e: unknown) => e,
        );
        const later = Array.from(
          { length: 10 },
          () => pool.query("SELECT pg_sleep(0.01)").then(() => "ok", (e: unknown) => String(e)),
        );
        await sleep(50);
        const t0 = Date.now();
        ac.abort(reason);
        assert.equal(await mine, reason);
        const abortMs = Date.now() - t0;
        assert.ok(abortMs < 500, `the abort took ${abortMs} ms`);
        const results = await Promise.all([...others, ...later]);
        assert.deepEqual(results.filter((r) => r !== "ok"), [], "callers hurt by another's abort");
        // The aborted caller's share comes back once its query is over: nothing leaks.
        await until(
          () => `leased back to 0 (leased ${pool.stats().groups.default.leased})`,
          () => pool.stats().groups.default.leased === 0,
          { withinMs: 2000, everyMs: 10 },
        );
        assert.equal(pool.stats().groups.default.total, 1);
        // A signal aborted before the call: rejected with its reason, the session untouched.
        const pre = await pool.query("SELECT 1", [], { signal: AbortSignal.abort(reason) }).then(
          () => "resolved",
          (e: unknown) => e,
        );
        assert.equal(pre, reason);
        assert.equal((await pool.query("SELECT 1 AS one")).rows[0].one, 1);
      }));
  });
}
