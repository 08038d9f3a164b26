/**
 * `pool.end()` landing while a new session's role is still being learned
 * (`learnRole`: a server that does not report `in_hot_standby` is asked with
 * a query): the role query serves nobody any more, so the caller gets
 * `PoolClosedError` at once (not after `connect_timeout`), the session is
 * closed, no timer stays armed, and the endpoint's health is untouched (in a
 * threaded pool other isolates share it: an aborted attempt must not mark it
 * down).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, PoolClosedError } from "../../mod.ts";
import { defaultResponder, FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
};

function rig(target: "primary" | "read-write" | "standby") {
  const fake = new FakeDriver();
  const clock = new FakeClock();
  const roleAsked: string[] = [];
  // The role query never answers (a server gone silent after the login); the rest as usual.
  fake.respond = (text, params, s) => {
    if (/pg_is_in_recovery/.test(text)) {
      roleAsked.push(text);
      return new Promise(() => {});
    }
    return defaultResponder(text, params, s);
  };
  const driver: Driver = { name: "fake", connect: (p) => fake.connect(p) };
  const pool = createPool({
    db: { host: "a", port: 5432, user: "u", pass: "s3cret", connect_timeout: 5 },
    groups: {
      g: { connection_count: 1, target_session_attrs: target },
      p: { connection_count: 1, pipeline: true, target_session_attrs: target },
    },
    driver,
    endTimeoutMs: 60_000,
  }, { clock });
  return { pool, fake, clock, roleAsked };
}

describe("pool.end() during the role query of a new session", () => {
  for (const target of ["primary", "read-write", "standby"] as const) {
    it(
      `${target}: the callers get PoolClosedError without the connect timeout; the endpoint stays up`,
      async () => {
        const { pool, fake, clock, roleAsked } = rig(target);
        const outcomes: unknown[] = [];
        const calls = [
          pool.query("SELECT 1", [], { group: "g" }),
          pool.query("SELECT 1", [], { group: "p" }),
        ].map((c) => c.then(() => "served", (e) => e).then((o) => void outcomes.push(o)));
        await settle();
        assert.ok(roleAsked.length >= 1, "the role query is out");
        const ending = pool.end();
        try {
          await settle();
          // No clock time passed: nothing may wait for the role query's deadline.
          assert.equal(outcomes.length, 2, "the callers settled at end(), not at connect_timeout");
          for (const o of outcomes) assert.ok(o instanceof PoolClosedError, String(o));
          assert.equal(fake.open.size, 0, "the session whose role was asked is closed");
        } finally {
          // Past the role query's deadline: an abandoned attempt counts nothing against the endpoint.
          clock.advance(10_000);
          await settle();
          await ending;
          await Promise.all(calls);
        }
        const [endpoint] = pool.stats().endpoints;
        assert.equal(endpoint.up, true, "the endpoint is not marked down");
        assert.equal(endpoint.failures, 0);
        assert.equal(clock.pendingTimers, 0, "no timer left armed");
      },
    );
  }
});
