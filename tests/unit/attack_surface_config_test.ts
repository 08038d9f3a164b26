/**
 * The configuration from every door, as a careless user and a hostile
 * environment fill it in: URL parameters given twice, whitespace and control
 * characters that a copied secret or a `.env` file brings along, NUL bytes
 * that would cut a startup packet, a `URL` object or a `Map` where a URL text
 * or a plain object belongs, a port glued to an object's host, a file path
 * where PEM text belongs, and the environment (`DATABASE_URL`, `PG*`) whose
 * errors must name the variable that was set, not a config path the user never
 * wrote. Each wrong input is a `ConfigError` naming the key; nothing is
 * silently defaulted or ignored, and no password is quoted.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { ConfigError, createPool, init } from "../../mod.ts";
import { normalizeConfig, passwordOf, type PoolConfig } from "../../src/config/normalize.ts";
import { configFromEnv } from "../../src/config/env.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const GROUPS = { g: { connection_count: 1 } };
const PW_PART = "pwPart7Qx";
const PW = `${PW_PART}:@/%`;
const PW_URL = encodeURIComponent(PW);

function withDb(db: unknown, extra: Record<string, unknown> = {}): PoolConfig {
  return normalizeConfig({ db, groups: GROUPS, ...extra });
}

/** The ConfigError `fn` throws; fails on anything else, and when it quotes the password. */
function configError(fn: () => unknown, what: string): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof ConfigError,
    `${what}: expected a ConfigError, got ${inspect(caught)}`,
  );
  for (const text of [caught.message, String(caught), caught.stack ?? "", inspect(caught)]) {
    assert.ok(!text.includes(PW_PART), `${what}: the password shows in ${text}`);
  }
  return caught;
}

/** Asserts a ConfigError at exactly `path` (or under it, for a `path.` prefix). */
function assertRefused(fn: () => unknown, path: string, what: string, message?: RegExp): void {
  const err = configError(fn, what);
  const ok = path.endsWith(".") ? err.path.startsWith(path) : err.path === path;
  assert.ok(ok, `${what}: expected the path ${path}, got ${err.path} (${err.message})`);
  if (message) assert.match(err.message, message, what);
}

describe("URL parameters given twice", () => {
  it(
    "?host= given twice is refused, as every other parameter given twice is, not the last one kept",
    () => {
      assertRefused(
        () => withDb("postgres://u@/db?host=/tmp&host=/var/run/postgresql"),
        "db.host",
        "host twice",
        /twice/,
      );
      assertRefused(
        () => withDb("postgres://u@/db?host=a&sslmode=require&host=b"),
        "db.host",
        "apart",
      );
    },
  );
});

describe("libpq's ?password= parameter", () => {
  it("is refused without quoting its value, in every message that quotes the URL", () => {
    for (
      const url of [
        `postgres://u@h/db?password=${PW_URL}`,
        `postgres://u@h/db?sslmode=on&password=${PW_URL}`,
        `postgres://u@h:x/db?PassWord=${PW_URL}&sslmode=require`,
        `postgres://u@h/db?sslpassword=${PW_URL}`,
      ]
    ) {
      configError(() => withDb(url), url);
      configError(() => withDb({ host: "h" }, { groups: url }), `${url} as groups`);
    }
  });
});

describe("characters a copied URL brings along", () => {
  it(
    "a URL with a line break, tab or space at either end, or a control character inside, is refused without quoting its password",
    () => {
      const base = `postgres://app:${PW_URL}@db1:5432/app`;
      const bad: [string, string][] = [
        ["a trailing line break (a .env file, $(cat secret))", `${base}\n`],
        ["a trailing \\r\\n", `${base}\r\n`],
        ["a trailing space", `${base} `],
        ["a leading space", ` ${base}`],
        ["a tab inside", `postgres://app:${PW_URL}@db1:5432/a\tpp`],
        ["a raw NUL inside the password", `postgres://app:${PW_PART}\0x@db1/app`],
        ["a line break inside the password", `postgres://app:${PW_PART}\nx@db1/app`],
        ["a DEL character", `${base}\x7f`],
      ];
      for (const [what, url] of bad) {
        assertRefused(() => withDb(url), "db", what, /space|control|line break/i);
      }
    },
  );

  it(
    "a raw # (a URL fragment) is refused: it would become part of the database name or a parameter",
    () => {
      assertRefused(() => withDb("postgres://u@h/db#x"), "db.", "a fragment after the database");
      assertRefused(
        () => withDb("postgres://u@h/db?application_name=a#b"),
        "db.",
        "a fragment after a parameter",
      );
      // Inside the password a raw "#" is the password's, as before.
      const ep = withDb(`postgres://u:${PW_PART}#x@h/db`).endpoints[0];
      assert.equal(passwordOf(ep), `${PW_PART}#x`);
    },
  );

  it("a percent-encoded NUL in the user, database, host or a parameter is refused, naming it", () => {
    const cases: [string, string][] = [
      ["db.user", `postgres://a%00b:${PW_URL}@h/db`],
      ["db.database", `postgres://u:${PW_URL}@h/a%00b`],
      ["db.host", `postgres://u:${PW_URL}@a%00b/db`],
      ["db.application_name", `postgres://u:${PW_URL}@h/db?application_name=a%00options`],
      ["db.password", `postgres://u:${PW_PART}%00x@h/db`],
    ];
    for (const [path, url] of cases) assertRefused(() => withDb(url), path, url, /NUL/);
  });

  it("an encoded space, line break or unicode in user, password and database still works", () => {
    const ep = withDb("postgres://j%C3%BCrgen:p%20w%0A%C3%A4@h/d%C3%A4%20ta").endpoints[0];
    assert.equal(ep.user, "jürgen");
    assert.equal(ep.database, "dä ta");
    assert.equal(passwordOf(ep), "p w\nä");
    const raw = withDb("postgres://ü:pä@hö/dä").endpoints[0];
    assert.deepEqual([raw.user, raw.host, raw.database, passwordOf(raw)], ["ü", "hö", "dä", "pä"]);
  });
});

describe("endpoint objects", () => {
  it(
    "a NUL byte in user, name, application_name, host, id or the password is refused, naming the key",
    () => {
      const cases: [string, Record<string, unknown>][] = [
        ["db.user", { host: "h", user: "app\0options" }],
        ["db.name", { host: "h", name: "app\0options" }],
        ["db.database", { host: "h", database: "app\0" }],
        ["db.application_name", { host: "h", application_name: "x\0database\0other" }],
        ["db.host", { host: "h\0" }],
        ["db.id", { host: "h", id: "a\0b" }],
        ["db.pass", { host: "h", pass: `${PW_PART}\0` }],
        ["db.password", { host: "h", password: `${PW_PART}\0` }],
      ];
      for (const [path, db] of cases) assertRefused(() => withDb(db), path, path, /NUL/);
    },
  );

  it(
    "a host with a port glued on, or with spaces around it, is refused with what to write instead",
    () => {
      assertRefused(() => withDb({ host: "db1:5432" }), "db.host", "a host:port", /port/);
      assertRefused(() => withDb({ host: "db1:5432/app" }), "db.host", "a host:port/db", /port/);
      assertRefused(() => withDb({ host: "10.0.0.1:5432" }), "db.host", "an IPv4:port", /port/);
      assertRefused(() => withDb({ host: " db1 " }), "db.host", "spaces", /space/);
      assertRefused(() => withDb({ host: "db1\n" }), "db.host", "a line break", /space/);
    },
  );

  it("bare IPv6 addresses, a zone id, a mapped IPv4 and socket directories still pass", () => {
    for (const host of ["::1", "fe80::1%eth0", "::ffff:127.0.0.1", "2001:db8::8a2e:370:7334"]) {
      assert.equal(withDb({ host }).endpoints[0].host, host);
    }
    for (const host of ["/var/run/postgresql", "/tmp/with:colon"]) {
      assert.equal(withDb({ host }).endpoints[0].host, host);
    }
  });

  it("sslrootcert that is a file path, not PEM text, is refused: the library reads no files", () => {
    assertRefused(
      () => withDb({ host: "h", ssl: "verify-full", sslrootcert: "/etc/ssl/ca.pem" }),
      "db.sslrootcert",
      "a path in an object",
      /PEM/,
    );
    assertRefused(
      () => withDb("postgres://h/db?sslmode=verify-ca&sslrootcert=%2Fetc%2Fssl%2Fca.pem"),
      "db.sslrootcert",
      "a path in a URL",
      /PEM/,
    );
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    assert.equal(withDb({ host: "h", sslrootcert: pem }).endpoints[0].sslRootCert, pem);
  });
});

describe("free-text fields that are shown everywhere", () => {
  it("an endpoint id holding a URL's password or a password= is refused without quoting it", () => {
    for (
      const id of [
        `postgres://app:${PW_URL}@db1/app`,
        `db1 password=${PW_PART}`,
        `postgres://app@db1/app?password=${PW_URL}`,
      ]
    ) {
      assertRefused(() => withDb({ host: "db1", id }), "db.id", id, /credential|password/);
    }
    assert.equal(
      withDb({ host: "db1", id: "primary (postgres://db1/app)" }).endpoints[0].id,
      "primary (postgres://db1/app)",
    );
  });
});

describe("objects that are not plain", () => {
  it("a URL object as db (or in a db list) is read as its text, as the string would be", () => {
    const text = `postgres://app:${PW_URL}@db1:5433/app?sslmode=require`;
    const fromText = withDb(text).endpoints;
    const fromUrl = withDb(new URL(text)).endpoints;
    assert.deepEqual(fromUrl, fromText);
    assert.equal(passwordOf(fromUrl[0]), PW);
    assert.deepEqual(withDb([new URL(text)]).endpoints, fromText);
    const pool = createPool({
      db: new URL(text) as never,
      groups: GROUPS,
      driver: new FakeDriver(),
    });
    assert.equal(pool.stats().endpoints[0].port, 5433);
    return pool.end();
  });

  it(
    "a Map, Set, Date or URL where a plain object belongs is refused by its kind, not as a missing key",
    () => {
      const url = new URL(`postgres://app:${PW_URL}@db1/app`);
      const cases: [string, () => unknown, RegExp][] = [
        ["", () => normalizeConfig(url), /a URL object/],
        ["", () => normalizeConfig(new Map([["db", "postgres://h/db"]])), /a Map/],
        ["db", () => withDb(new Map([["host", "h"]])), /a Map/],
        ["db[1]", () => withDb(["postgres://h/db", new Date()]), /a Date/],
        ["groups", () => withDb({ host: "h" }, { groups: new Map([["g", {}]]) }), /a Map/],
        ["groups.g", () => withDb({ host: "h" }, { groups: { g: new Set([1]) } }), /a Set/],
      ];
      for (const [path, fn, message] of cases) {
        assertRefused(fn, path, `${path} ${message}`, message);
      }
    },
  );
});

describe("init() and createPool() without a config", () => {
  it("say how to build the pool from the environment instead of only 'got undefined'", () => {
    for (const call of [() => init(undefined as never), () => createPool(undefined as never)]) {
      assertRefused(call, "", "no config", /DATABASE_URL/);
    }
  });
});

describe("the environment", () => {
  /** The ConfigError of building the default pool's config from `vars`. */
  function fromEnv(vars: Record<string, string>): () => unknown {
    return () => normalizeConfig(configFromEnv((name) => vars[name]));
  }

  it("a bad PG* value is refused naming the variable, not a config path the user never wrote", () => {
    const cases: [string, Record<string, string>][] = [
      ["PGPORT", { PGHOST: "a", PGPORT: "abc" }],
      ["PGPORT", { PGHOST: "a,b", PGPORT: "5432," }],
      ["PGPORT", { PGHOST: "a", PGPORT: "70000" }],
      ["PGHOST", { PGHOST: "a, ,b" }],
      ["PGHOST", { PGHOST: "a:5432" }],
      ["PGSSLMODE", { PGHOST: "a", PGSSLMODE: "on" }],
      ["PGAPPNAME", { PGHOST: "a", PGAPPNAME: "x".repeat(100) }],
      ["PGCONNECT_TIMEOUT", { PGHOST: "a", PGCONNECT_TIMEOUT: "0" }],
      ["PGUSER", { PGHOST: "a", PGUSER: "app\0x" }],
      ["PGDATABASE", { PGHOST: "a", PGDATABASE: "app\0x" }],
      ["PGPASSWORD", { PGHOST: "a", PGPASSWORD: `${PW_PART}\0` }],
      ["PGTARGETSESSIONATTRS", { PGHOST: "a", PGTARGETSESSIONATTRS: "master" }],
    ];
    for (const [name, vars] of cases) {
      assertRefused(fromEnv(vars), name, `${name}=${JSON.stringify(vars[name])}`);
    }
  });

  it("a bad DATABASE_URL is refused under the path DATABASE_URL, its password masked", () => {
    const url = `postgres://app:${PW_URL}@db1`;
    for (const bad of [`${url}:x/app`, `${url}/app?sslmode=on`, `${url}/app\n`, `${url}/app?x=1`]) {
      assertRefused(fromEnv({ DATABASE_URL: bad }), "DATABASE_URL", JSON.stringify(bad));
    }
  });

  it("libpq variables the pool cannot honour are refused by name, not silently ignored", () => {
    for (
      const name of [
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGHOSTADDR",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGPASSFILE",
        "PGOPTIONS",
      ]
    ) {
      assertRefused(fromEnv({ PGHOST: "db1", [name]: "x" }), name, `${name} with PGHOST`);
      assertRefused(fromEnv({ [name]: "x" }), name, `${name} alone`);
    }
    // DATABASE_URL carries everything itself: the PG* variables are not read then.
    assert.equal(
      withEnv({ DATABASE_URL: "postgres://h/db", PGSERVICE: "x" }).endpoints[0].host,
      "h",
    );
  });

  it("the PG* variables that work still build the pool", () => {
    const config = withEnv({
      PGHOST: "a,b",
      PGPORT: "5433,5434",
      PGUSER: "app",
      PGPASSWORD: PW,
      PGSSLMODE: "require",
      PGCONNECT_TIMEOUT: "3",
      PGTARGETSESSIONATTRS: "read-write",
    });
    assert.deepEqual(config.endpoints.map((e) => e.id), ["a:5433", "b:5434"]);
    assert.equal(passwordOf(config.endpoints[1]), PW);
    assert.equal(config.groups.default.targetSessionAttrs, "read-write");
  });

  function withEnv(vars: Record<string, string>): PoolConfig {
    return normalizeConfig(configFromEnv((name) => vars[name]));
  }
});
