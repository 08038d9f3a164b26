/**
 * createPool() fuzzed with fast-check: whatever it is given — arbitrary
 * values, objects built from the real configuration keys with random values,
 * random strings as URLs — it either builds a pool or throws a ConfigError,
 * never anything else, and a ConfigError never shows the password supplied.
 *
 * Runs per property: `PGDBPOOL_FC_RUNS` (default 300); `PGDBPOOL_FC_SEED` replays one seed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { ConfigError, createPool, type Pool, PoolError } from "../../mod.ts";
import { ENDPOINT_KEYS } from "../../src/config/fields.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const ENV =
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ??
    {};
const RUNS = Number(ENV.PGDBPOOL_FC_RUNS ?? "") || 300;
const PARAMS: fc.Parameters<unknown> = {
  numRuns: RUNS,
  ...(ENV.PGDBPOOL_FC_SEED ? { seed: Number(ENV.PGDBPOOL_FC_SEED) } : {}),
};

/** Every password the fuzzer supplies starts with this, so a leak of any part of it shows. */
const MARK = "sekret";

// The real key sets: README's configuration table and src/config*.ts.
const TOP_KEYS = [
  "type",
  "db",
  "groups",
  "driver",
  "acquireTimeoutMs",
  "acquire_timeout_ms",
  "pingAfterIdleMs",
  "ping_after_idle_ms",
  "endTimeoutMs",
  "end_timeout_ms",
  "reconnectBaseMs",
  "reconnect_base_ms",
  "reconnectMaxMs",
  "reconnect_max_ms",
  "leakDetectionMs",
  "leak_detection_ms",
];
const GROUP_KEYS = [
  "connection_count",
  "connectionCount",
  "autocommit",
  "reset",
  "pipeline",
  "endpoints",
  "target_session_attrs",
  "targetSessionAttrs",
];
const ENDPOINT_FIELD_KEYS: string[] = Object.values(ENDPOINT_KEYS).flat();
const URL_PARAMS = [
  "host",
  "sslmode",
  "sslrootcert",
  "connect_timeout",
  "application_name",
  "query_timeout",
  "session_tmp_buffer",
];

// ---------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------

const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withUnicodeString: true,
});

const URL_CHARS = fc.constantFrom(
  ..."aZ09-_.~:@/?#[]%&=,+! \t\n\u00e9\u{1F600}\\\"'",
);

const password = fc.string({ unit: URL_CHARS, maxLength: 10 }).map((s) => MARK + s);

/** Values a key might be given: plausible ones, near misses, and anything at all. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: anything },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      0,
      1,
      -1,
      2,
      10,
      0.5,
      1e300,
      2 ** 31,
      2 ** 53,
      NaN,
      Infinity,
      -Infinity,
      -0,
      "",
      " ",
      "1",
      "10",
      "0x10",
      "1e3",
      "5432",
      "65536",
      "true",
      "auto",
      "none",
      "RESET ALL",
      "disable",
      "require",
      "verify-full",
      "Disable",
      "threaded",
      "non-threaded",
      "db1",
      "db1,db2",
      "[::1]",
      "::1",
      "/var/run/postgresql",
      true,
      false,
      null,
      undefined,
      [],
      {},
      Symbol("s"),
      () => {},
      new FakeDriver(),
      { name: "x", connect: 1 },
    ),
  },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.string({ unit: URL_CHARS, maxLength: 20 }) },
);

function recordOf(keys: string[], v: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...keys), v, { maxKeys: 6 }) },
    // Now and then a key that does not exist, or a prototype-ish one.
    {
      weight: 1,
      arbitrary: fc.dictionary(
        fc.oneof(
          fc.constantFrom(...keys),
          fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "Host"),
          fc.string({ maxLength: 8 }),
        ),
        v,
        { maxKeys: 6 },
      ),
    },
  );
}

/** One endpoint object; often with a password (always starting with MARK). */
const endpointObject = fc.tuple(
  recordOf(ENDPOINT_FIELD_KEYS, value),
  fc.option(fc.constantFrom("pass", "password"), { nil: undefined }),
  password,
  fc.boolean(),
).map(([fields, key, pw, withHost]) => {
  const e: Record<string, unknown> = { ...fields };
  for (const k of ["pass", "password"]) if (typeof e[k] === "string") delete e[k];
  if (withHost && e.host === undefined) e.host = "db1";
  if (key) e[key] = pw;
  return e;
});

const hostList = fc.array(
  fc.oneof(
    fc.constantFrom(
      "db1",
      "db2:5433",
      "[::1]:5432",
      "h",
      "",
      ":",
      "[::1",
      "a:b:c",
      "db1:0",
      "db1:99999",
    ),
    fc.string({ unit: URL_CHARS, maxLength: 8 }),
  ),
  { maxLength: 3 },
).map((hosts) => hosts.join(","));

const queryString = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom(...URL_PARAMS), fc.string({ unit: URL_CHARS, maxLength: 6 })),
    fc.oneof(
      fc.constantFrom("require", "1", "0", "x", "", "%zz", "%41"),
      fc.string({ unit: URL_CHARS, maxLength: 6 }),
    ),
    fc.boolean(),
  ),
  { maxLength: 4 },
).map((pairs) => pairs.map(([k, v, eq]) => eq ? `${k}=${v}` : k).join("&"));

/** A connection URL built from parts, the password (MARK…) in its user info. */
const urlWithPassword = fc.record({
  scheme: fc.constantFrom("postgres://", "postgresql://", "postgres:/", "pg://", "POSTGRES://", ""),
  user: fc.oneof(
    fc.constantFrom("app", "", "a%20b", "%zz"),
    fc.string({ unit: URL_CHARS, maxLength: 5 }),
  ),
  pw: password,
  hosts: hostList,
  db: fc.option(
    fc.oneof(
      fc.constantFrom("app", "", "a/b", "a@b", "%2F"),
      fc.string({ unit: URL_CHARS, maxLength: 6 }),
    ),
    {
      nil: undefined,
    },
  ),
  query: fc.option(queryString, { nil: undefined }),
}).map(({ scheme, user, pw, hosts, db, query }) => ({
  url: `${scheme}${user}:${pw}@${hosts}${db === undefined ? "" : `/${db}`}${
    query === undefined ? "" : `?${query}`
  }`,
  pw,
}));

/** A libpq key=value string with a password in clear. */
const keyValueString = password.map((pw) => ({ url: `host=db1 user=app password=${pw}`, pw }));

const group = recordOf(GROUP_KEYS, value);
const groups = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(
      fc.oneof(fc.constantFrom("default", "web", "read only", ""), fc.string({ maxLength: 6 })),
      group,
      { maxKeys: 3 },
    ),
  },
  { weight: 1, arbitrary: value },
);

/** A structured config from the real keys: the db given as objects, URLs or a mix. */
const structuredConfig = fc.tuple(
  recordOf(TOP_KEYS.filter((k) => k !== "db" && k !== "groups"), value),
  fc.oneof(
    endpointObject.map((e) => ({ db: e as unknown, pws: pwsOf(e) })),
    fc.array(fc.oneof(endpointObject, urlWithPassword.map((u) => u.url)), { maxLength: 3 }).map((
      list,
    ) => ({
      db: list as unknown,
      pws: list.flatMap((e) => typeof e === "string" ? [] : pwsOf(e)),
    })),
    urlWithPassword.map((u) => ({ db: u.url as unknown, pws: [u.pw] })),
    value.map((v) => ({ db: v, pws: [] as string[] })),
  ),
  groups,
  fc.boolean(),
).map(([top, { db, pws }, g, withDriver]) => {
  const config: Record<string, unknown> = { ...top, db, groups: g };
  // Mostly the fake driver, so that a config that is valid builds a pool without I/O.
  if (withDriver && !("driver" in top)) config.driver = new FakeDriver();
  return { config, pws };
});

const DELETE = Symbol("delete");

/**
 * A valid config (endpoint objects or a multi-host URL, one or two groups, the
 * fake driver) with a few keys set to random values or deleted: most stay
 * close to valid, so the validators of every key, and the checks across keys
 * (reconnect pair, pipeline with autocommit, aliases), are reached.
 */
const mutatedConfig = fc.record({
  asUrl: fc.boolean(),
  pw: password,
  mutations: fc.array(
    fc.tuple(
      fc.constantFrom("top", "db", "group"),
      fc.nat(),
      fc.oneof({ weight: 4, arbitrary: value }, { weight: 1, arbitrary: fc.constant(DELETE) }),
    ),
    { maxLength: 3 },
  ),
}).map(({ asUrl, pw, mutations }) => {
  const endpoint: Record<string, unknown> = {
    host: "db1",
    port: 5432,
    name: "app",
    user: "app",
    pass: pw,
  };
  const group: Record<string, unknown> = { connection_count: 2 };
  const config: Record<string, unknown> = {
    db: asUrl
      ? `postgres://app:${encodeURIComponent(pw)}@db1,db2:5433/app?sslmode=disable`
      : [endpoint, { host: "db2" }],
    groups: { default: group, reports: { connectionCount: 1, autocommit: false } },
    driver: new FakeDriver(),
  };
  for (const [where, k, v] of mutations) {
    const [target, keys] = where === "top"
      ? [config, TOP_KEYS]
      : where === "db"
      ? [endpoint, ENDPOINT_FIELD_KEYS]
      : [group, GROUP_KEYS];
    const key = keys[k % keys.length];
    if (v === DELETE) delete target[key];
    else target[key] = v;
  }
  // A mutation may have replaced the password: only the ones still in place are checked.
  const pws = [pw, endpoint.pass, endpoint.password].filter((p): p is string =>
    typeof p === "string" && p.startsWith(MARK)
  );
  return { config, pws };
});

function pwsOf(e: Record<string, unknown>): string[] {
  return [e.pass, e.password].filter((p): p is string => typeof p === "string");
}

// ---------------------------------------------------------------------------
// The check every property shares
// ---------------------------------------------------------------------------

/** Asserts that `err` is a well-formed ConfigError that shows none of `passwords`. */
function assertConfigErrorHides(err: unknown, passwords: readonly string[]): void {
  assert.ok(
    err instanceof ConfigError,
    `threw ${
      err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }, not a ConfigError`,
  );
  assert.ok(err instanceof PoolError);
  assert.equal(err.name, "ConfigError");
  assert.equal(typeof err.path, "string");
  assert.ok(err.message.length > 0);
  const shown = [err.message, err.path, String(err), err.stack ?? ""].join("\n");
  if (passwords.length > 0) {
    assert.ok(!shown.includes(MARK), `the password shows in: ${err.message} (path ${err.path})`);
  }
  for (const pw of passwords) {
    assert.ok(!shown.includes(pw), `password ${JSON.stringify(pw)} leaked`);
  }
}

/**
 * createPool(config) either returns a pool (ended at once: no I/O happened) or
 * throws a ConfigError that names a path and shows none of the passwords.
 */
async function createOrConfigError(
  config: unknown,
  passwords: readonly string[] = [],
): Promise<void> {
  let pool: Pool | undefined;
  try {
    pool = createPool(config as Parameters<typeof createPool>[0]);
  } catch (err) {
    assertConfigErrorHides(err, passwords);
    return;
  }
  try {
    const stats = JSON.stringify(pool.stats());
    for (const pw of passwords) assert.ok(!stats.includes(pw), "password in stats()");
  } finally {
    await pool.end();
  }
}

/** A copy that keeps functions, drivers and other class instances by reference. */
function snapshot(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snapshot);
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, snapshot(x)]));
  }
  return v;
}

describe("createPool() fuzzed (fast-check)", () => {
  it("throws nothing but ConfigError for any value at all", async () => {
    await fc.assert(fc.asyncProperty(anything, (config) => createOrConfigError(config)), PARAMS);
    await fc.assert(
      fc.asyncProperty(value, value, (db, groups) => createOrConfigError({ db, groups })),
      PARAMS,
    );
  });

  it("throws nothing but ConfigError for objects of the real keys with random values, and never shows a password", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(structuredConfig, mutatedConfig),
        ({ config, pws }) => createOrConfigError(config, pws),
      ),
      PARAMS,
    );
  });

  it("throws nothing but ConfigError for random strings as URLs, and never shows the URL's password", async () => {
    const okGroups = { default: { connection_count: 1 } };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string().map((url) => ({ url, pw: undefined })),
          fc.string({ unit: "binary" }).map((url) => ({ url: `postgres://${url}`, pw: undefined })),
          fc.string({ unit: URL_CHARS, maxLength: 40 }).map((url) => ({
            url: `postgresql://${url}`,
            pw: undefined,
          })),
          urlWithPassword,
          keyValueString,
        ),
        fc.boolean(),
        ({ url, pw }, asList) =>
          createOrConfigError(
            {
              db: asList ? [url, "postgres://db9/app"] : url,
              groups: okGroups,
              driver: new FakeDriver(),
            },
            pw === undefined ? [] : [pw],
          ),
      ),
      PARAMS,
    );
  });

  it("never changes the config object it is given", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(structuredConfig, mutatedConfig), async ({ config }) => {
        const before = snapshot(config);
        await createOrConfigError(config).catch(() => {});
        assert.ok(isDeepStrictEqual(snapshot(config), before), "createPool() changed its input");
      }),
      PARAMS,
    );
  });
});

describe("createPool() fuzz counterexamples", () => {
  for (
    const url of [
      "postgres:/app:sekret://@", // shrunk: "://" inside the password
      "postgres:/:sekret@://app", // shrunk: "://" after the password
    ]
  ) {
    it(`createPool() refuses the mistyped URL ${JSON.stringify(url)} with a ConfigError that never shows its password`, () => {
      let caught: unknown;
      try {
        createPool({
          db: url,
          groups: { default: { connection_count: 1 } },
          driver: new FakeDriver(),
        });
      } catch (err) {
        caught = err;
      }
      assert.ok(caught !== undefined, "createPool() accepted a mistyped URL");
      assertConfigErrorHides(caught, ["sekret"]);
    });
  }
});
