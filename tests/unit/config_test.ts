import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULTS,
  describeEndpoint,
  type EndpointConfig,
  normalizeConfig,
  passwordOf,
  type PoolConfig,
  redactUrl,
} from "../../src/config/normalize.ts";
import { configFromEnv } from "../../src/config/env.ts";
import { redactCredentials } from "../../src/redact.ts";
import { ConfigError } from "../../src/errors.ts";
import type { Driver } from "../../src/driver.ts";

const GROUPS = { default: { connection_count: 2 } };
const SECRET = "s3cr3t-Pa55";

/** Normalises a config with one group around the given `db`. */
function withDb(db: unknown, extra: Record<string, unknown> = {}): PoolConfig {
  return normalizeConfig({ db, groups: GROUPS, ...extra });
}

/** The only endpoint of a config built around `db`. */
function endpointOf(db: unknown): EndpointConfig {
  const { endpoints } = withDb(db);
  assert.equal(endpoints.length, 1);
  return endpoints[0];
}

/** Asserts that `fn` throws a ConfigError at `path` whose message holds every part. */
function assertConfigError(fn: () => unknown, path: string, ...parts: string[]): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.name, "ConfigError");
  assert.equal(caught.path, path, caught.message);
  for (const part of parts) assert.ok(caught.message.includes(part), caught.message);
  return caught;
}

/** Asserts that the secret appears nowhere in the error's renderings. */
function assertNoSecret(err: Error, secret = SECRET): void {
  for (const text of [err.message, String(err), err.stack ?? "", inspect(err)]) {
    assert.ok(!text.includes(secret), `secret leaked: ${text}`);
  }
}

/** The running runtime's inspect (Deno.inspect or Bun.inspect), else JSON. */
function inspect(value: unknown): string {
  const rt = globalThis as {
    Deno?: { inspect(value: unknown, options?: { depth?: number }): string };
    Bun?: { inspect(value: unknown, options?: { depth?: number }): string };
  };
  if (rt.Deno) return rt.Deno.inspect(value, { depth: 10 });
  if (rt.Bun) return rt.Bun.inspect(value, { depth: 10 });
  return JSON.stringify(value);
}

/** Whether the value and everything reachable from it is frozen (the driver excepted). */
function isDeepFrozen(value: unknown, skip: unknown = undefined): boolean {
  if (typeof value !== "object" || value === null || value === skip) return true;
  if (!Object.isFrozen(value)) return false;
  return Object.values(value).every((v) => isDeepFrozen(v, skip));
}

const fakeDriver: Driver = {
  name: "fake",
  connect: () => Promise.reject(new Error("not in unit tests")),
};

describe("DEFAULTS", () => {
  it("DEFAULTS is frozen and holds the documented values", () => {
    assert.ok(Object.isFrozen(DEFAULTS));
    assert.deepEqual({ ...DEFAULTS }, {
      type: "non-threaded",
      port: 5432,
      user: "postgres",
      ssl: "disable",
      connectTimeoutMs: 10000,
      queryTimeoutMs: 5000,
      sessionTmpBufferMb: 128,
      applicationName: "pgdbpool",
      autocommit: true,
      reset: "auto",
      pipeline: false,
      targetSessionAttrs: "any",
      retry: 0,
      maxWaiting: Infinity,
      acquireTimeoutMs: 10000,
      pingAfterIdleMs: 1000,
      pingTimeoutMs: 5000,
      idleTimeoutMs: 600_000,
      maxLifetimeMs: 1_800_000,
      endTimeoutMs: 5000,
      allowExitOnIdle: false,
      leakDetectionMs: 0,
      reconnectBaseMs: 250,
      reconnectMaxMs: 10000,
      listenPingIntervalMs: 10000,
      listenPingTimeoutMs: 5000,
    });
  });
});

describe("normalizeConfig() defaults", () => {
  it("normalizeConfig() fills every endpoint default from a bare host", () => {
    assert.deepEqual({ ...endpointOf({ host: "db1" }) }, {
      id: "db1:5432",
      host: "db1",
      port: 5432,
      database: "postgres",
      user: "postgres",
      ssl: "disable",
      sslRootCert: undefined,
      connectTimeoutMs: 10000,
      queryTimeoutMs: 5000,
      sessionTmpBufferMb: 128,
      applicationName: "pgdbpool",
      poolMode: "session",
    });
  });

  it("normalizeConfig() defaults the database to the user", () => {
    assert.equal(endpointOf({ host: "db1", user: "app" }).database, "app");
  });

  it("normalizeConfig() fills every pool default", () => {
    const config = withDb({ host: "db1" });
    assert.equal(config.type, "non-threaded");
    assert.equal(config.driver, undefined);
    assert.equal(config.acquireTimeoutMs, 10000);
    assert.equal(config.pingAfterIdleMs, 1000);
    assert.equal(config.endTimeoutMs, 5000);
    assert.equal(config.reconnectBaseMs, 250);
    assert.equal(config.reconnectMaxMs, 10000);
  });

  it("normalizeConfig() defaults autocommit to true", () => {
    const config = withDb({ host: "db1" });
    assert.deepEqual({ ...config.groups.default }, {
      connectionCount: 2,
      autocommit: true,
      reset: "auto",
      pipeline: false,
      endpoints: undefined,
      targetSessionAttrs: "any",
      retry: 0,
      maxWaiting: Infinity,
      sqlprepare: false,
      onConnect: undefined,
      paramstyle: "numeric",
    });
  });
});

describe("normalizeConfig() endpoint keys", () => {
  it("normalizeConfig() reads the seed-style keys of the Python module", () => {
    const e = endpointOf({
      host: "db1",
      port: 5433,
      name: "appdb",
      user: "app",
      pass: SECRET,
      ssl: "require",
      sslrootcert: "-----BEGIN CERTIFICATE-----",
      connect_timeout: 3,
      query_timeout: 120,
      session_tmp_buffer: 64,
      application_name: "billing",
    });
    assert.deepEqual({ ...e }, {
      id: "db1:5433",
      host: "db1",
      port: 5433,
      database: "appdb",
      user: "app",
      ssl: "require",
      sslRootCert: "-----BEGIN CERTIFICATE-----",
      connectTimeoutMs: 3000,
      queryTimeoutMs: 120,
      sessionTmpBufferMb: 64,
      applicationName: "billing",
      poolMode: "session",
    });
    assert.equal(passwordOf(e), SECRET);
  });

  it("normalizeConfig() reads the camelCase aliases", () => {
    const e = endpointOf({
      host: "db1",
      database: "appdb",
      password: SECRET,
      sslRootCert: "PEM",
      connectTimeout: 2,
      queryTimeout: 0,
      sessionTmpBuffer: 1,
      applicationName: "api",
    });
    assert.equal(e.database, "appdb");
    assert.equal(passwordOf(e), SECRET);
    assert.equal(e.sslRootCert, "PEM");
    assert.equal(e.connectTimeoutMs, 2000);
    assert.equal(e.queryTimeoutMs, 0);
    assert.equal(e.sessionTmpBufferMb, 1);
    assert.equal(e.applicationName, "api");
  });

  it("normalizeConfig() accepts a key and its alias with the same value", () => {
    const e = endpointOf({ host: "db1", name: "a", database: "a", pass: "p", password: "p" });
    assert.equal(e.database, "a");
    assert.equal(passwordOf(e), "p");
  });

  it("normalizeConfig() converts connect_timeout 3 (seconds) to connectTimeoutMs 3000", () => {
    assert.equal(endpointOf({ host: "db1", connect_timeout: 3 }).connectTimeoutMs, 3000);
    assert.equal(endpointOf({ host: "db1", connect_timeout: 0.25 }).connectTimeoutMs, 250);
  });

  it("normalizeConfig() accepts a numeric string port", () => {
    assert.equal(endpointOf({ host: "db1", port: "6432" }).port, 6432);
  });

  it("normalizeConfig() accepts every libpq ssl mode", () => {
    for (const ssl of ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]) {
      assert.equal(endpointOf({ host: "db1", ssl }).ssl, ssl);
    }
  });

  it("normalizeConfig() accepts a socket directory and a bare IPv6 host", () => {
    assert.equal(endpointOf({ host: "/var/run/postgresql" }).host, "/var/run/postgresql");
    assert.equal(endpointOf({ host: "::1" }).host, "::1");
  });

  it("normalizeConfig() keeps a list of endpoints in order", () => {
    const { endpoints } = withDb([{ host: "db1" }, { host: "db2", port: 5433 }]);
    assert.deepEqual(endpoints.map(describeEndpoint), ["db1:5432", "db2:5433"]);
  });

  it("normalizeConfig() maps connection_retry_sleep (s) to reconnectBaseMs", () => {
    const config = withDb([
      { host: "db1", connection_retry_sleep: 1 },
      { host: "db2", connectionRetrySleep: 1 },
    ]);
    assert.equal(config.reconnectBaseMs, 1000);
    assert.ok(!("connectionRetrySleepMs" in config.endpoints[0]));
  });

  it("normalizeConfig() accepts connection_retry_sleep equal to reconnectBaseMs", () => {
    const config = withDb({ host: "db1", connection_retry_sleep: 0.5 }, { reconnectBaseMs: 500 });
    assert.equal(config.reconnectBaseMs, 500);
  });

  it("normalizeConfig() treats undefined values as absent", () => {
    const e = endpointOf({ host: "db1", port: undefined, pass: undefined });
    assert.equal(e.port, 5432);
    assert.equal(passwordOf(e), undefined);
  });
});

describe("normalizeConfig() pool keys", () => {
  it("normalizeConfig() accepts type threaded", () => {
    assert.equal(withDb({ host: "db1" }, { type: "threaded" }).type, "threaded");
  });

  it("normalizeConfig() reads the durations and their seed-style aliases", () => {
    const config = withDb({ host: "db1" }, {
      acquireTimeoutMs: 1,
      ping_after_idle_ms: 0,
      end_timeout_ms: 7,
      reconnect_base_ms: 10,
      reconnectMaxMs: 10,
    });
    assert.equal(config.acquireTimeoutMs, 1);
    assert.equal(config.pingAfterIdleMs, 0);
    assert.equal(config.endTimeoutMs, 7);
    assert.equal(config.reconnectBaseMs, 10);
    assert.equal(config.reconnectMaxMs, 10);
  });

  it("normalizeConfig() keeps the driver object as given", () => {
    assert.equal(withDb({ host: "db1" }, { driver: fakeDriver }).driver, fakeDriver);
  });

  it("normalizeConfig() reads connectionCount and autocommit false", () => {
    const config = normalizeConfig({
      db: { host: "db1" },
      groups: { tx: { connectionCount: 3, autocommit: false }, ro: { connection_count: 1 } },
    });
    assert.deepEqual({ ...config.groups.tx }, {
      connectionCount: 3,
      autocommit: false,
      reset: "auto",
      pipeline: false,
      endpoints: undefined,
      targetSessionAttrs: "any",
      retry: 0,
      maxWaiting: Infinity,
      sqlprepare: false,
      onConnect: undefined,
      paramstyle: "numeric",
    });
    assert.deepEqual(Object.keys(config.groups), ["tx", "ro"]);
  });

  it("normalizeConfig() builds groups with no prototype, so inherited names are not groups", () => {
    const config = withDb({ host: "db1" });
    assert.equal(Object.getPrototypeOf(config.groups), null);
    assert.equal(config.groups["constructor"], undefined);
    assert.equal(config.groups["toString"], undefined);
  });

  it("normalizeConfig() leaves its input unchanged", () => {
    const input = { db: [{ host: "db1", pass: SECRET }], groups: { g: { connection_count: 1 } } };
    const before = JSON.stringify(input);
    normalizeConfig(input);
    assert.equal(JSON.stringify(input), before);
  });
});

describe("normalizeConfig() URLs", () => {
  it("normalizeConfig() parses a full postgres:// URL", () => {
    const e = endpointOf(
      `postgres://app:${SECRET}@db1:5433/appdb?sslmode=verify-full&connect_timeout=3` +
        "&application_name=api&query_timeout=250&session_tmp_buffer=16&sslrootcert=PEM",
    );
    assert.deepEqual({ ...e }, {
      id: "db1:5433",
      host: "db1",
      port: 5433,
      database: "appdb",
      user: "app",
      ssl: "verify-full",
      sslRootCert: "PEM",
      connectTimeoutMs: 3000,
      queryTimeoutMs: 250,
      sessionTmpBufferMb: 16,
      applicationName: "api",
      poolMode: "session",
    });
    assert.equal(passwordOf(e), SECRET);
  });

  it("normalizeConfig() accepts the postgresql:// scheme and defaults the rest", () => {
    const e = endpointOf("postgresql://db1");
    assert.equal(e.host, "db1");
    assert.equal(e.port, 5432);
    assert.equal(e.user, "postgres");
    assert.equal(e.database, "postgres");
    assert.equal(passwordOf(e), undefined);
  });

  it("normalizeConfig() turns a multi-host URL into endpoints sharing user, password and db", () => {
    const { endpoints } = withDb(`postgres://u:${SECRET}@h1:5432,h2:5433,h3/db?sslmode=require`);
    assert.deepEqual(endpoints.map(describeEndpoint), ["h1:5432", "h2:5433", "h3:5432"]);
    for (const e of endpoints) {
      assert.equal(e.user, "u");
      assert.equal(e.database, "db");
      assert.equal(e.ssl, "require");
      assert.equal(passwordOf(e), SECRET);
    }
  });

  it("normalizeConfig() reads bracketed IPv6 hosts with and without a port", () => {
    const { endpoints } = withDb("postgres://u@[::1]:5433,[2001:db8::7]/db");
    assert.deepEqual(endpoints.map((e) => [e.host, e.port]), [["::1", 5433], [
      "2001:db8::7",
      5432,
    ]]);
    assert.deepEqual(endpoints.map(describeEndpoint), ["[::1]:5433", "[2001:db8::7]:5432"]);
  });

  it("normalizeConfig() percent-decodes user, password, database and socket host", () => {
    const e = endpointOf("postgres://us%40er:p%2Fw%3A%40x@%2Fvar%2Frun%2Fpostgresql/my%20db");
    assert.equal(e.user, "us@er");
    assert.equal(passwordOf(e), "p/w:@x");
    assert.equal(e.database, "my db");
    assert.equal(e.host, "/var/run/postgresql");
  });

  it("normalizeConfig() reads a raw @ in a password up to the last @ of the authority", () => {
    const e = endpointOf("postgres://u:p@ss@db1/db");
    assert.equal(passwordOf(e), "p@ss");
    assert.equal(e.host, "db1");
  });

  it("normalizeConfig() takes socket directories from ?host= when the authority is empty", () => {
    const { endpoints } = withDb("postgres://u@:5433/db?host=/tmp,/var/run/postgresql");
    assert.deepEqual(endpoints.map((e) => [e.host, e.port]), [
      ["/tmp", 5433],
      ["/var/run/postgresql", 5433],
    ]);
  });

  it("normalizeConfig() accepts a list mixing URLs and objects", () => {
    const { endpoints } = withDb([
      "postgres://a:pa@h1/db",
      { host: "h2", pass: "pb" },
      "postgres://c@h3,h4/db",
    ]);
    assert.deepEqual(endpoints.map((e) => e.host), ["h1", "h2", "h3", "h4"]);
    assert.deepEqual(endpoints.map(passwordOf), ["pa", "pb", undefined, undefined]);
  });
});

describe("normalizeConfig() errors", () => {
  it("normalizeConfig() rejects input that is not an object", () => {
    assertConfigError(() => normalizeConfig("postgres://h/db"), "", "config object");
    assertConfigError(() => normalizeConfig(null), "", "null");
    assertConfigError(() => normalizeConfig([]), "", "an empty array");
  });

  it("normalizeConfig() rejects a missing db naming db", () => {
    assertConfigError(() => normalizeConfig({ groups: GROUPS }), "db", "is required");
  });

  it("normalizeConfig() rejects an empty db list naming db", () => {
    assertConfigError(() => withDb([]), "db", "an empty array");
  });

  it("normalizeConfig() rejects a db that is neither object nor URL naming db[1]", () => {
    assertConfigError(() => withDb([{ host: "a" }, 42]), "db[1]", "got 42");
  });

  it("normalizeConfig() rejects a missing host naming db.host", () => {
    assertConfigError(() => withDb({ port: 5432 }), "db.host", "is required");
    assertConfigError(() => withDb({ host: "" }), "db.host", 'got ""');
  });

  it("normalizeConfig() rejects a comma list or brackets in an object host", () => {
    assertConfigError(() => withDb({ host: "h1,h2" }), "db.host", "one host");
    assertConfigError(() => withDb({ host: "[::1]" }), "db.host", "without brackets");
  });

  it("normalizeConfig() rejects a bad port naming db[1].port", () => {
    for (const port of [0, 65536, 5432.5, -1, "54a", "", true]) {
      assertConfigError(
        () => withDb([{ host: "a" }, { host: "b", port }]),
        "db[1].port",
        "1..65535",
      );
    }
    assertConfigError(() => withDb({ host: "b", port: 70000 }), "db.port", "got 70000");
  });

  it("normalizeConfig() rejects an unknown ssl mode naming db.ssl", () => {
    assertConfigError(() => withDb({ host: "a", ssl: "on" }), "db.ssl", 'got "on"', "verify-full");
  });

  it("normalizeConfig() rejects a boolean ssl with a hint", () => {
    assertConfigError(() => withDb({ host: "a", ssl: false }), "db.ssl", "got false", "boolean");
  });

  it("normalizeConfig() rejects a non-positive or non-numeric connect_timeout", () => {
    for (const connect_timeout of [0, -1, Infinity, NaN, "3"]) {
      assertConfigError(
        () => withDb({ host: "a", connect_timeout }),
        "db.connect_timeout",
        "seconds > 0",
      );
    }
  });

  it("normalizeConfig() rejects a negative or fractional query_timeout", () => {
    assertConfigError(() => withDb({ host: "a", query_timeout: -1 }), "db.query_timeout", "-1");
    assertConfigError(() => withDb({ host: "a", queryTimeout: 1.5 }), "db.queryTimeout", "1.5");
  });

  it("normalizeConfig() rejects session_tmp_buffer 0", () => {
    assertConfigError(
      () => withDb({ host: "a", session_tmp_buffer: 0 }),
      "db.session_tmp_buffer",
      "got 0",
    );
  });

  it("normalizeConfig() rejects an application_name over 63 bytes", () => {
    assertConfigError(
      () => withDb({ host: "a", application_name: "é".repeat(32) }),
      "db.application_name",
      "63 bytes",
    );
    assert.equal(
      endpointOf({ host: "a", application_name: "x".repeat(63) }).applicationName.length,
      63,
    );
  });

  it("normalizeConfig() rejects a non-string user or database", () => {
    assertConfigError(() => withDb({ host: "a", user: 5 }), "db.user", "got 5");
    assertConfigError(() => withDb({ host: "a", name: "" }), "db.name", 'got ""');
  });

  it("normalizeConfig() rejects a non-string password without quoting it", () => {
    const err = assertConfigError(() => withDb({ host: "a", pass: 12345 }), "db.pass", "number");
    assert.ok(!err.message.includes("12345"));
  });

  it("normalizeConfig() rejects an unknown endpoint key naming db[0].hostname", () => {
    assertConfigError(() => withDb([{ hostname: "a" }]), "db[0].hostname", "unknown key");
  });

  it("normalizeConfig() rejects a key and its alias with different values", () => {
    assertConfigError(
      () => withDb({ host: "a", name: "x", database: "y" }),
      "db.database",
      'alias "db.name"',
      '"x"',
      '"y"',
    );
    assertConfigError(
      () => withDb({ host: "a" }, { acquireTimeoutMs: 1, acquire_timeout_ms: 2 }),
      "acquire_timeout_ms",
      "alias",
    );
  });

  it("normalizeConfig() rejects conflicting pass and password without quoting either", () => {
    const err = assertConfigError(
      () => withDb({ host: "a", pass: SECRET, password: "other-pw" }),
      "db.password",
      "alias",
    );
    assertNoSecret(err);
    assertNoSecret(err, "other-pw");
  });

  it("normalizeConfig() rejects a bad type naming type", () => {
    assertConfigError(() => withDb({ host: "a" }, { type: "multi" }), "type", 'got "multi"');
  });

  it("normalizeConfig() rejects an unknown top-level key naming it", () => {
    assertConfigError(() => withDb({ host: "a" }, { pool_size: 3 }), "pool_size", "unknown key");
  });

  it("normalizeConfig() rejects missing or empty groups naming groups", () => {
    assertConfigError(() => normalizeConfig({ db: { host: "a" } }), "groups", "is required");
    assertConfigError(() => normalizeConfig({ db: { host: "a" }, groups: {} }), "groups", "empty");
    assertConfigError(() => normalizeConfig({ db: { host: "a" }, groups: [] }), "groups", "array");
  });

  it("normalizeConfig() rejects connection_count 0 naming groups.g.connection_count", () => {
    assertConfigError(
      () => normalizeConfig({ db: { host: "a" }, groups: { g: { connection_count: 0 } } }),
      "groups.g.connection_count",
      "integer ≥ 1",
      "got 0",
    );
  });

  it("normalizeConfig() rejects negative, fractional and string connection counts", () => {
    for (const n of [-2, 1.5, "3", NaN]) {
      assertConfigError(
        () => normalizeConfig({ db: { host: "a" }, groups: { reports: { connectionCount: n } } }),
        "groups.reports.connectionCount",
        "integer ≥ 1",
      );
    }
  });

  it("normalizeConfig() rejects a group without connection_count", () => {
    assertConfigError(
      () => normalizeConfig({ db: { host: "a" }, groups: { g: { autocommit: true } } }),
      "groups.g.connection_count",
      "is required",
    );
  });

  it("normalizeConfig() rejects an unknown group key naming it", () => {
    assertConfigError(
      () => normalizeConfig({ db: { host: "a" }, groups: { g: { connection_count: 1, size: 2 } } }),
      "groups.g.size",
      "unknown key",
    );
  });

  it("normalizeConfig() rejects a non-boolean autocommit", () => {
    assertConfigError(
      () =>
        normalizeConfig({
          db: { host: "a" },
          groups: { g: { connection_count: 1, autocommit: "no" } },
        }),
      "groups.g.autocommit",
      'got "no"',
    );
  });

  it("normalizeConfig() rejects an empty group name and a group that is not an object", () => {
    assertConfigError(
      () => normalizeConfig({ db: { host: "a" }, groups: { "": { connection_count: 1 } } }),
      'groups[""]',
      "non-empty",
    );
    assertConfigError(
      () => normalizeConfig({ db: { host: "a" }, groups: { "my.group": 3 } }),
      'groups["my.group"]',
      "got 3",
    );
  });

  it("normalizeConfig() rejects a driver without name or connect", () => {
    assertConfigError(() => withDb({ host: "a" }, { driver: { name: "x" } }), "driver", "connect");
    assertConfigError(
      () => withDb({ host: "a" }, { driver: "postgresjs" }),
      "driver",
      "postgresjs",
    );
  });

  it("normalizeConfig() rejects bad durations naming the key", () => {
    assertConfigError(
      () => withDb({ host: "a" }, { acquireTimeoutMs: 0 }),
      "acquireTimeoutMs",
      "> 0",
    );
    assertConfigError(
      () => withDb({ host: "a" }, { pingAfterIdleMs: -1 }),
      "pingAfterIdleMs",
      "-1",
    );
    assertConfigError(
      () => withDb({ host: "a" }, { end_timeout_ms: Infinity }),
      "end_timeout_ms",
      "Infinity",
    );
    assertConfigError(
      () => withDb({ host: "a" }, { reconnectBaseMs: "100" }),
      "reconnectBaseMs",
      '"100"',
    );
  });

  it("normalizeConfig() rejects reconnectMaxMs below reconnectBaseMs", () => {
    assertConfigError(
      () => withDb({ host: "a" }, { reconnectBaseMs: 500, reconnect_max_ms: 100 }),
      "reconnect_max_ms",
      "at least reconnectBaseMs (500)",
      "got 100",
    );
    assertConfigError(
      () => withDb({ host: "a" }, { reconnectBaseMs: 20000 }),
      "reconnectMaxMs",
      "(the default)",
    );
  });

  it("normalizeConfig() rejects different connection_retry_sleep values across endpoints", () => {
    assertConfigError(
      () =>
        withDb([
          { host: "a", connection_retry_sleep: 1 },
          { host: "b", connection_retry_sleep: 2 },
        ]),
      "db[1].connection_retry_sleep",
      "same value",
    );
    assertConfigError(
      () => withDb({ host: "a", connection_retry_sleep: 1 }, { reconnectBaseMs: 250 }),
      "db.connection_retry_sleep",
      "reconnectBaseMs",
    );
    assertConfigError(
      () => withDb({ host: "a", connection_retry_sleep: 30 }),
      "reconnectMaxMs",
      'reconnectBaseMs (30000, from "db.connection_retry_sleep")',
    );
    assertConfigError(
      () => withDb({ host: "a", connection_retry_sleep: -1 }),
      "db.connection_retry_sleep",
      "≥ 0",
    );
  });
});

describe("normalizeConfig() URL errors", () => {
  it("normalizeConfig() rejects a string that is not a postgres URL", () => {
    assertConfigError(() => withDb("mysql://h/db"), "db", "postgres://", '"mysql://h/db"');
    assertConfigError(() => withDb("db1:5432"), "db", "postgres://");
  });

  it("normalizeConfig() rejects a key=value string without quoting it", () => {
    const err = assertConfigError(
      () => withDb(`host=h password=${SECRET}`),
      "db",
      "key=value",
    );
    assertNoSecret(err);
  });

  it("normalizeConfig() rejects an unknown URL parameter naming it", () => {
    assertConfigError(
      () => withDb(`postgres://u:${SECRET}@h/db?target_session_attr=any`),
      "db.target_session_attr",
      "unknown URL parameter",
      "sslmode",
    );
  });

  it("normalizeConfig() rejects a URL with a bad port naming db.port and masking the password", () => {
    const err = assertConfigError(
      () => withDb(`postgres://u:${SECRET}@h:99999/db`),
      "db.port",
      'got "99999"',
      "postgres://u:****@h:99999/db",
    );
    assertNoSecret(err);
  });

  it("normalizeConfig() rejects bad values of URL parameters", () => {
    assertConfigError(() => withDb("postgres://h/db?sslmode=on"), "db.sslmode", '"on"');
    assertConfigError(
      () => withDb("postgres://h/db?connect_timeout=abc"),
      "db.connect_timeout",
      '"abc"',
    );
    assertConfigError(
      () => withDb("postgres://h/db?session_tmp_buffer=0"),
      "db.session_tmp_buffer",
      '"0"',
    );
    assertConfigError(() => withDb("postgres://h/db?sslmode"), "db", "name=value");
    assertConfigError(
      () => withDb("postgres://h/db?sslmode=require&sslmode=disable"),
      "db.sslmode",
      "twice",
    );
  });

  it("normalizeConfig() rejects URLs without a host or with malformed hosts", () => {
    assertConfigError(() => withDb("postgres:///db"), "db.host", "is required");
    assertConfigError(() => withDb("postgres://h1,,h2/db"), "db.host", "between the commas");
    assertConfigError(() => withDb("postgres://[::1/db"), "db.host", '"]"');
    assertConfigError(() => withDb("postgres://::1:5432/db"), "db.host", "brackets");
    assertConfigError(() => withDb("postgres://h:/db"), "db.port", "1..65535");
    assertConfigError(() => withDb("postgres://h/db?host=/tmp"), "db.host", "twice");
    assertConfigError(() => withDb("postgres://h/d%ZZb"), "db.database", "percent-encoding");
  });

  it("normalizeConfig() never shows a password with a raw / in a malformed URL", () => {
    const err = assertConfigError(() => withDb("postgres://u:zq/xy-word@h/db"), "db.database");
    assertNoSecret(err, "zq");
    assert.ok(err.message.includes("postgres://u:****@h/db"), err.message);
  });

  it("normalizeConfig() rejects a raw / or @ in the database of a URL, without showing a password", () => {
    const err = assertConfigError(
      () => withDb("postgres://u:5432/zq-word@h/db"),
      "db.database",
      "percent-encoded",
    );
    assertNoSecret(err, "zq");
    assertConfigError(() => withDb("postgres://h/a/b"), "db.database", '"a/b"');
  });

  it("normalizeConfig() never shows a password with a raw ? in a malformed URL", () => {
    const err = assertConfigError(() => withDb("postgres://u:zq?xy=1@h/db"), "db");
    assertNoSecret(err, "zq");
    assertNoSecret(err, "xy");
  });

  it("normalizeConfig() never shows a password with bad percent-encoding", () => {
    const err = assertConfigError(
      () => withDb(`postgres://u:${SECRET}%zz@h/db`),
      "db.password",
      "percent-encoding",
    );
    assertNoSecret(err);
  });

  it("normalizeConfig() masks the password in an unknown-parameter error of a list URL", () => {
    const err = assertConfigError(
      () => withDb([{ host: "a" }, `postgresql://u:${SECRET}@h/db?bogus=1`]),
      "db[1].bogus",
      '"bogus"',
    );
    assertNoSecret(err);
  });
});

describe("normalizeConfig() result", () => {
  const config = withDb(
    [`postgres://u:${SECRET}@h1,h2/db`, { host: "h3", password: SECRET }],
    { driver: fakeDriver },
  );

  it("normalizeConfig() returns a deeply frozen config", () => {
    assert.ok(isDeepFrozen(config, fakeDriver));
    assert.ok(Object.isFrozen(config.endpoints));
    assert.ok(Object.isFrozen(config.endpoints[0]));
    assert.ok(Object.isFrozen(config.groups.default));
    assert.throws(() => {
      (config.groups.default as { connectionCount: number }).connectionCount = 99;
    }, TypeError);
  });

  it("normalizeConfig() leaves the password out of JSON.stringify(config)", () => {
    const json = JSON.stringify(config);
    assert.ok(!json.includes(SECRET), json);
    assert.ok(json.includes('"host":"h1"'));
  });

  it("normalizeConfig() leaves the password out of the runtime's inspect", () => {
    const text = inspect(config);
    assert.ok(!text.includes(SECRET), text);
    assert.ok(text.includes("h3"), text);
  });

  it("normalizeConfig() carries no password field on endpoints", () => {
    for (const e of config.endpoints) {
      assert.ok(!("password" in e) && !("pass" in e));
      assert.ok(!Object.values(e).includes(SECRET));
    }
  });
});

describe("passwordOf()", () => {
  it("passwordOf() returns the password of each normalised endpoint", () => {
    const { endpoints } = withDb([`postgres://u:${SECRET}@h1,h2/db`, { host: "h3", pass: "x" }]);
    assert.deepEqual(endpoints.map(passwordOf), [SECRET, SECRET, "x"]);
  });

  it("passwordOf() returns undefined for an endpoint without password or for a copy", () => {
    const e = endpointOf({ host: "h", pass: SECRET });
    assert.equal(passwordOf({ ...e }), undefined);
    assert.equal(passwordOf(endpointOf({ host: "h" })), undefined);
    assert.equal(passwordOf(endpointOf({ host: "h", pass: "" })), undefined);
  });
});

describe("describeEndpoint()", () => {
  it("describeEndpoint() renders host:port and brackets IPv6", () => {
    assert.equal(describeEndpoint({ host: "db1", port: 5432 }), "db1:5432");
    assert.equal(describeEndpoint({ host: "fe80::1", port: 6543 }), "[fe80::1]:6543");
    assert.equal(describeEndpoint({ host: "/tmp", port: 5432 }), "/tmp:5432");
  });
});

describe("redactUrl()", () => {
  it("redactUrl() masks the password of a URL", () => {
    assert.equal(redactUrl(`postgres://u:${SECRET}@h/db`), "postgres://u:****@h/db");
    assert.equal(
      redactUrl(`postgres://u:${SECRET}@h1:1,h2:2/db?x=1`),
      "postgres://u:****@h1:1,h2:2/db?x=1",
    );
  });

  it("redactUrl() leaves a URL without password unchanged", () => {
    assert.equal(redactUrl("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
    assert.equal(redactUrl("postgres://h:5432/db"), "postgres://h:5432/db");
  });

  it("redactUrl() masks a password holding raw /, ? or @", () => {
    assert.equal(redactUrl("postgres://u:a/b?c@d@h/db"), "postgres://u:****@h/db");
  });
});

describe("redactCredentials()", () => {
  it("redactCredentials() masks the password of every URL in a text", () => {
    assert.equal(
      redactCredentials(`connect to postgres://u:${SECRET}@h1,h2/db failed; also "pg://a:b@c/d".`),
      'connect to postgres://u:****@h1,h2/db failed; also "pg://a:****@c/d".',
    );
  });

  it("redactCredentials() masks password= in key=value conninfo, quoted or not", () => {
    assert.equal(
      redactCredentials(`host=db1 password=${SECRET} user=app`),
      "host=db1 password=**** user=app",
    );
    assert.equal(
      redactCredentials("host=db1 PASSWORD = 'it\\'s secret' dbname=app"),
      "host=db1 PASSWORD = '****' dbname=app",
    );
  });

  it("redactCredentials() leaves a common-word password's other uses alone", () => {
    for (
      const text of [
        'database "postgres_app" does not exist',
        'password authentication failed for user "postgres"',
        "db1:5432: connect ECONNREFUSED 127.0.0.1:5432",
        "postgres://app@db1/app",
      ]
    ) {
      assert.equal(redactCredentials(text), text);
    }
  });
});

describe("configFromEnv()", () => {
  const envOf = (vars: Record<string, string>) => (name: string): string | undefined => vars[name];

  it("configFromEnv() uses DATABASE_URL with a default group of 10", () => {
    const input = configFromEnv(envOf({ DATABASE_URL: "postgres://u@h/db", PGHOST: "other" }));
    assert.deepEqual(input, {
      db: "postgres://u@h/db",
      groups: { default: { connection_count: 10 } },
    });
    assert.equal(normalizeConfig(input).endpoints[0].host, "h");
  });

  it("configFromEnv() reads PGDBPOOL_CONNECTION_COUNT", () => {
    const input = configFromEnv(
      envOf({ DATABASE_URL: "postgres://h/db", PGDBPOOL_CONNECTION_COUNT: "4" }),
    );
    assert.deepEqual(input.groups, { default: { connection_count: 4 } });
  });

  it("configFromEnv() rejects a bad PGDBPOOL_CONNECTION_COUNT naming it", () => {
    for (const n of ["0", "four", "-1", "2.5"]) {
      assertConfigError(
        () =>
          configFromEnv(envOf({ DATABASE_URL: "postgres://h/db", PGDBPOOL_CONNECTION_COUNT: n })),
        "PGDBPOOL_CONNECTION_COUNT",
        JSON.stringify(n),
      );
    }
  });

  it("configFromEnv() builds an endpoint from the PG* variables", () => {
    const input = configFromEnv(envOf({
      PGHOST: "db1",
      PGPORT: "6432",
      PGDATABASE: "app",
      PGUSER: "u",
      PGPASSWORD: SECRET,
      PGSSLMODE: "require",
      PGAPPNAME: "worker",
      PGCONNECT_TIMEOUT: "3",
    }));
    const e = normalizeConfig(input).endpoints[0];
    assert.deepEqual([e.host, e.port, e.database, e.user, e.ssl, e.applicationName], [
      "db1",
      6432,
      "app",
      "u",
      "require",
      "worker",
    ]);
    assert.equal(e.connectTimeoutMs, 3000);
    assert.equal(passwordOf(e), SECRET);
  });

  it("configFromEnv() reads PGTARGETSESSIONATTRS for the default group, as libpq does", () => {
    const config = normalizeConfig(
      configFromEnv(envOf({ PGHOST: "h1,h2", PGTARGETSESSIONATTRS: "read-write" })),
    );
    assert.equal(config.groups.default.targetSessionAttrs, "read-write");
    assertConfigError(
      () =>
        normalizeConfig(configFromEnv(envOf({ PGHOST: "h1", PGTARGETSESSIONATTRS: "writable" }))),
      "PGTARGETSESSIONATTRS",
      "writable",
    );
  });

  it("configFromEnv() turns a PGHOST list into endpoints, with one port or one per host", () => {
    const one = normalizeConfig(configFromEnv(envOf({ PGHOST: "h1, h2", PGPORT: "5433" })));
    assert.deepEqual(one.endpoints.map(describeEndpoint), ["h1:5433", "h2:5433"]);
    const each = normalizeConfig(configFromEnv(envOf({ PGHOST: "h1,h2", PGPORT: "1,2" })));
    assert.deepEqual(each.endpoints.map(describeEndpoint), ["h1:1", "h2:2"]);
    assertConfigError(
      () => configFromEnv(envOf({ PGHOST: "h1,h2,h3", PGPORT: "1,2" })),
      "PGPORT",
      "one per host",
    );
  });

  it("configFromEnv() defaults the host to localhost when only PGUSER or PGDATABASE is set", () => {
    const e = normalizeConfig(configFromEnv(envOf({ PGUSER: "me" }))).endpoints[0];
    assert.equal(e.host, "localhost");
    assert.equal(e.database, "me");
  });

  it("configFromEnv() rejects a non-numeric PGCONNECT_TIMEOUT naming it", () => {
    assertConfigError(
      () => configFromEnv(envOf({ PGHOST: "h", PGCONNECT_TIMEOUT: "ten" })),
      "PGCONNECT_TIMEOUT",
      '"ten"',
    );
  });

  it('configFromEnv() throws a ConfigError with path "" when nothing is set', () => {
    const err = assertConfigError(
      () => configFromEnv(envOf({ PGPASSWORD: "x", DATABASE_URL: "" })),
      "",
      "no pool configured: call init(config), or set DATABASE_URL or PGHOST",
    );
    assert.ok(err.message.includes("PGUSER, PGDATABASE, PGPASSWORD"));
  });

  it("configFromEnv() reads the runtime environment when no reader is given", () => {
    // Whatever the environment holds, the call either configures a pool or says why not.
    try {
      const input = configFromEnv();
      assert.ok(input.db !== undefined);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
    }
  });
});

describe("normalizeConfig() groups.<g>.reset", () => {
  /** The reset of group `g` configured with the given value. */
  function resetOf(reset: unknown): string {
    return normalizeConfig({ db: { host: "db1" }, groups: { g: { connection_count: 1, reset } } })
      .groups.g.reset;
  }

  it("normalizeConfig() takes the keywords auto and none exactly", () => {
    assert.equal(resetOf("auto"), "auto");
    assert.equal(resetOf("none"), "none");
  });

  it("normalizeConfig() rejects a misspelt reset keyword naming groups.<g>.reset", () => {
    for (const word of ["Auto", "AUTO", "none ", " auto", "autp", "None", "nnoe", "auto;", "off"]) {
      assertConfigError(() => resetOf(word), "groups.g.reset", JSON.stringify(word), '"auto"');
    }
  });

  it("normalizeConfig() suggests the keyword a misspelling is close to", () => {
    assertConfigError(() => resetOf("AUTO"), "groups.g.reset", 'did you mean "auto"');
    assertConfigError(() => resetOf("none "), "groups.g.reset", 'did you mean "none"');
    assertConfigError(() => resetOf("autp"), "groups.g.reset", 'did you mean "auto"');
  });

  it("normalizeConfig() accepts real SQL as reset, one-word statements included", () => {
    for (
      const sql of [
        "DISCARD ALL",
        "RESET ALL; SELECT pg_advisory_unlock_all()",
        "reset all",
        "ROLLBACK",
        "  CHECKPOINT  ",
        "select 1",
      ]
    ) {
      assert.equal(resetOf(sql), sql);
    }
  });

  it("normalizeConfig() rejects an empty or non-string reset", () => {
    for (const value of ["", "   ", 1, true, null]) {
      assertConfigError(() => resetOf(value), "groups.g.reset", '"auto", "none"');
    }
  });
});
