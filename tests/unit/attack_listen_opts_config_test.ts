/**
 * `listenPingIntervalMs` / `listenPingTimeoutMs` (aliases
 * `listen_ping_interval_ms` / `listen_ping_timeout_ms`) given bad values
 * through every config path: each refusal is a ConfigError naming the key.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../mod.ts";
import { normalizeConfig } from "../../src/config/normalize.ts";

const base = { db: { host: "h" }, groups: { g: { connection_count: 1 } } };
const KEYS = [
  "listenPingIntervalMs",
  "listen_ping_interval_ms",
  "listenPingTimeoutMs",
  "listen_ping_timeout_ms",
];

describe("listen keep-alive config", () => {
  for (const key of KEYS) {
    it(`${key}: 0, negative, NaN, ±Infinity, strings, null, booleans are refused, naming the key`, () => {
      for (const bad of [0, -0, -1, NaN, Infinity, -Infinity, "5000", "", null, true, {}, [1]]) {
        assert.throws(
          () => normalizeConfig({ ...base, [key]: bad }),
          (err: unknown) => err instanceof ConfigError && err.path === key,
          `${key}: ${String(bad)}`,
        );
      }
    });

    it(`${key}: fractional and huge values are taken as given`, () => {
      for (const ok of [0.5, 1, 2 ** 31, 2 ** 40]) {
        const c = normalizeConfig({ ...base, [key]: ok });
        const camel = key.startsWith("listen_ping_interval") || key === "listenPingIntervalMs"
          ? c.listenPingIntervalMs
          : c.listenPingTimeoutMs;
        assert.equal(camel, ok);
      }
    });
  }

  it("defaults: a ping every 10 s, 5 s to answer", () => {
    const c = normalizeConfig(base);
    assert.equal(c.listenPingIntervalMs, 10_000);
    assert.equal(c.listenPingTimeoutMs, 5000);
  });

  it("an interval shorter than the timeout is allowed (one ping at a time)", () => {
    const c = normalizeConfig({ ...base, listenPingIntervalMs: 100, listenPingTimeoutMs: 20_000 });
    assert.equal(c.listenPingIntervalMs, 100);
    assert.equal(c.listenPingTimeoutMs, 20_000);
  });

  it("a key and its alias with different values conflict; with the same value they agree", () => {
    assert.throws(
      () => normalizeConfig({ ...base, listenPingTimeoutMs: 1, listen_ping_timeout_ms: 2 }),
      ConfigError,
    );
    const c = normalizeConfig({ ...base, listenPingIntervalMs: 7, listen_ping_interval_ms: 7 });
    assert.equal(c.listenPingIntervalMs, 7);
  });

  it("is not a URL parameter: refused with a ConfigError naming it", () => {
    for (const p of ["listen_ping_timeout_ms=5", "listenPingIntervalMs=5"]) {
      assert.throws(
        () => normalizeConfig({ ...base, db: `postgres://u@h/d?${p}` }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(p.split("=")[0]),
      );
    }
  });

  it("is a pool key, not an endpoint or group key", () => {
    assert.throws(
      () => normalizeConfig({ ...base, db: { host: "h", listenPingTimeoutMs: 5 } }),
      ConfigError,
    );
    assert.throws(
      () =>
        normalizeConfig({
          ...base,
          groups: { g: { connection_count: 1, listen_ping_timeout_ms: 5 } },
        }),
      ConfigError,
    );
  });
});
