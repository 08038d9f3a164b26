/**
 * `listenPingIntervalMs` and `listenPingTimeoutMs` on the fake driver and
 * clock: the listen session's `SELECT 1` goes out at the configured interval,
 * an unanswered ping or LISTEN closes the session after the configured wait
 * (not before), the defaults stay 10 s and 5 s, and bad values are a
 * `ConfigError` naming the key.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, createPool, type Driver, type Pool } from "../../mod.ts";
import { normalizeConfig } from "../../src/config/normalize.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let made: { pool: Pool; clock: FakeClock }[] = [];

function pool(extra: Record<string, unknown> = {}) {
  const fake = new FakeDriver();
  const clock = new FakeClock();
  const driver: Driver = { name: "fake", notifications: true, connect: (p) => fake.connect(p) };
  const p = createPool({
    db: { host: "a", port: 5432, user: "u" },
    groups: { g: { connection_count: 1 } },
    driver,
    ...extra,
  }, { clock });
  made.push({ pool: p, clock });
  return { pool: p, fake, clock };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
};

/** Advances in 250 ms steps (the loss checks) for `ms`, letting promises run between steps. */
async function walk(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    clock.advance(250);
    await settle();
  }
}

const pings = (s: FakeSession) => s.log.filter((q) => q === "SELECT 1").length;

afterEach(async () => {
  for (const { pool: p, clock } of made) {
    const ending = p.end();
    clock.advance(60_000);
    await ending;
  }
  made = [];
});

describe("listen session keep-alive options", () => {
  it("pings at listenPingIntervalMs and closes an unanswered session after listenPingTimeoutMs", async () => {
    const { pool: p, fake, clock } = pool({ listenPingIntervalMs: 1000, listenPingTimeoutMs: 750 });
    await p.listen("a", () => {});
    const first = [...fake.open][0] as FakeSession;
    await walk(clock, 750);
    assert.equal(pings(first), 0, "no ping before the interval");
    await walk(clock, 250);
    assert.equal(pings(first), 1, "a ping at the interval");
    await walk(clock, 1000);
    assert.equal(pings(first), 2, "and at each interval after");
    fake.respond = (text, params, s) =>
      text === "SELECT 1" && s === first
        ? new Promise(() => {})
        : defaultResponder(text, params, s);
    await walk(clock, 1000); // the unanswered ping goes out
    assert.ok(!first.closed, "the ping has its wait");
    await walk(clock, 500);
    assert.ok(!first.closed, "still within listenPingTimeoutMs");
    await walk(clock, 250);
    assert.ok(first.closed, "closed once listenPingTimeoutMs passed");
  });

  it("keeps the defaults: a ping every 10 s, 5 s to answer", async () => {
    const { pool: p, fake, clock } = pool();
    await p.listen("a", () => {});
    const first = [...fake.open][0] as FakeSession;
    await walk(clock, 9750);
    assert.equal(pings(first), 0);
    fake.respond = (text, params, s) =>
      text === "SELECT 1" && s === first
        ? new Promise(() => {})
        : defaultResponder(text, params, s);
    await walk(clock, 250);
    assert.equal(pings(first), 1);
    await walk(clock, 4750);
    assert.ok(!first.closed, "5 s to answer");
    await walk(clock, 250);
    assert.ok(first.closed);
  });

  it("closes a new session whose LISTEN is unanswered after listenPingTimeoutMs, and listen() rejects", async () => {
    const { pool: p, fake, clock } = pool({ listenPingTimeoutMs: 300, acquireTimeoutMs: 60_000 });
    fake.respond = (text, params, s) =>
      text.startsWith("LISTEN") ? new Promise(() => {}) : defaultResponder(text, params, s);
    const seen: { outcome: unknown } = { outcome: "pending" };
    p.listen("a", () => {}).then(() => (seen.outcome = "listened"), (err) => (seen.outcome = err));
    await settle();
    clock.advance(299);
    await settle();
    assert.equal(String(seen.outcome), "pending");
    clock.advance(1);
    await settle();
    assert.ok(seen.outcome instanceof Error, String(seen.outcome));
  });

  it("accepts the seed-style aliases and refuses 0, negative and non-numbers with ConfigError", () => {
    const base = { db: { host: "a" }, groups: { g: { connection_count: 1 } } };
    const c = normalizeConfig({
      ...base,
      listen_ping_interval_ms: 500,
      listen_ping_timeout_ms: 200,
    });
    assert.equal(c.listenPingIntervalMs, 500);
    assert.equal(c.listenPingTimeoutMs, 200);
    for (const key of ["listenPingIntervalMs", "listen_ping_timeout_ms"]) {
      for (const bad of [0, -1, "5", Infinity]) {
        assert.throws(
          () => normalizeConfig({ ...base, [key]: bad }),
          (err: unknown) => err instanceof ConfigError && err.path === key,
          `${key}: ${String(bad)}`,
        );
      }
    }
  });
});
