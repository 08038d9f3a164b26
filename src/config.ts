/**
 * Turns user input (the Python module's seed-style keys, camelCase aliases,
 * connection URLs) into one frozen, fully-defaulted {@linkcode PoolConfig}.
 * Units of the Python keys (`connect_timeout` in seconds, `session_tmp_buffer`
 * in MB) are translated here and nowhere else.
 *
 * @module
 */
import type { Driver, SslMode } from "./driver.ts";
import { ConfigError } from "./errors.ts";

/** One endpoint as the user may write it (seed-style keys or camelCase aliases). */
export interface EndpointInput {
  /** Host name, IP, or Unix socket directory. */
  host?: string;
  /** TCP port. @default {5432} */
  port?: number | string;
  /** Database name (alias `database`). */
  name?: string;
  /** Database name (alias of `name`). */
  database?: string;
  /** User name. @default {"postgres"} */
  user?: string;
  /** Password (alias `password`). */
  pass?: string;
  /** Password (alias of `pass`). */
  password?: string;
  /** TLS mode. @default {"disable"} */
  ssl?: SslMode;
  /** PEM CA certificate(s) used by `verify-ca` / `verify-full` (alias `sslRootCert`). */
  sslrootcert?: string;
  /** Alias of `sslrootcert`. */
  sslRootCert?: string;
  /** Connect timeout in seconds (alias `connectTimeout`). @default {10} */
  connect_timeout?: number;
  /** Alias of `connect_timeout`, in seconds. */
  connectTimeout?: number;
  /** Statement timeout in milliseconds, applied as `statement_timeout` (alias `queryTimeout`). @default {5000} */
  query_timeout?: number;
  /** Alias of `query_timeout`, in milliseconds. */
  queryTimeout?: number;
  /** Temp buffers in megabytes, applied as `temp_buffers` (alias `sessionTmpBuffer`). @default {128} */
  session_tmp_buffer?: number;
  /** Alias of `session_tmp_buffer`, in megabytes. */
  sessionTmpBuffer?: number;
  /** `application_name` of the sessions (alias `applicationName`). @default {"pgdbpool"} */
  application_name?: string;
  /** Alias of `application_name`. */
  applicationName?: string;
  /**
   * The Python module's sleep between reconnect tries, in seconds (alias
   * `connectionRetrySleep`). Here it sets the pool's first back-off,
   * `reconnectBaseMs`; every endpoint that gives it must give the same value.
   */
  connection_retry_sleep?: number;
  /** Alias of `connection_retry_sleep`, in seconds. */
  connectionRetrySleep?: number;
}

/** One group as the user may write it. */
export interface GroupInput {
  /** Most connections this group opens (alias `connectionCount`). Required, integer ≥ 1. */
  connection_count?: number;
  /** Alias of `connection_count`. */
  connectionCount?: number;
  /** `false` runs each `withHandler` inside a transaction. @default {true} */
  autocommit?: boolean;
}

/** The pool configuration as the user writes it. */
export interface PoolConfigInput {
  /** `"non-threaded"` (default) or `"threaded"` (accepted; each isolate has its own budget for now). */
  type?: "threaded" | "non-threaded";
  /** One endpoint, a list of them, a connection URL (multi-host allowed) or a list of URLs. */
  db: string | EndpointInput | readonly (string | EndpointInput)[];
  /** The groups, by name. */
  groups: Record<string, GroupInput>;
  /** The driver; by default Bun.SQL on Bun, postgres.js elsewhere. */
  driver?: Driver;
  /** How long a lease waits for a free connection, in ms (alias `acquire_timeout_ms`). @default {10000} */
  acquireTimeoutMs?: number;
  /** Ping a connection that sat idle longer than this before handing it out, in ms (alias `ping_after_idle_ms`). @default {1000} */
  pingAfterIdleMs?: number;
  /** How long `end()` waits for leased handlers to come back, in ms (alias `end_timeout_ms`). @default {5000} */
  endTimeoutMs?: number;
  /** First back-off after an endpoint fails, in ms; doubles up to `reconnectMaxMs` (alias `reconnect_base_ms`). @default {250} */
  reconnectBaseMs?: number;
  /** Longest back-off of a failing endpoint, in ms (alias `reconnect_max_ms`). @default {10000} */
  reconnectMaxMs?: number;
}

/**
 * A normalised endpoint. Carries no password: {@linkcode passwordOf} finds it,
 * so that printing or serialising a config never shows it.
 */
export interface EndpointConfig {
  /** Host name, IP address (IPv6 without brackets) or Unix socket directory. */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
  /** Database name; defaults to the user name. */
  readonly database: string;
  /** User name. */
  readonly user: string;
  /** TLS mode. */
  readonly ssl: SslMode;
  /** PEM CA certificate(s), if given. */
  readonly sslRootCert: string | undefined;
  /** Connect timeout in milliseconds (the input is in seconds). */
  readonly connectTimeoutMs: number;
  /** `statement_timeout` in milliseconds; `0` means none. */
  readonly queryTimeoutMs: number;
  /** `temp_buffers` in megabytes. */
  readonly sessionTmpBufferMb: number;
  /** `application_name` of the sessions. */
  readonly applicationName: string;
}

/** A normalised group. */
export interface GroupConfig {
  /** Most connections the group opens, ≥ 1. */
  readonly connectionCount: number;
  /** `false` runs each `withHandler` inside a transaction. */
  readonly autocommit: boolean;
}

/**
 * The normalised, frozen configuration. `groups` has a `null` prototype, so a
 * lookup such as `groups["constructor"]` finds only configured groups.
 */
export interface PoolConfig {
  /** Threading model. */
  readonly type: "threaded" | "non-threaded";
  /** The endpoints, in rotation order; never empty. */
  readonly endpoints: readonly EndpointConfig[];
  /** The groups, by name; never empty. */
  readonly groups: Readonly<Record<string, GroupConfig>>;
  /** The driver, or `undefined` for the runtime's default. Not frozen: it is the caller's object. */
  readonly driver: Driver | undefined;
  /** How long a lease waits for a free connection, in ms; > 0. */
  readonly acquireTimeoutMs: number;
  /** Idle time after which a connection is pinged before use, in ms. */
  readonly pingAfterIdleMs: number;
  /** How long `end()` waits for leased handlers, in ms. */
  readonly endTimeoutMs: number;
  /** First back-off of a failing endpoint, in ms. */
  readonly reconnectBaseMs: number;
  /** Longest back-off of a failing endpoint, in ms; ≥ `reconnectBaseMs`. */
  readonly reconnectMaxMs: number;
}

/**
 * The value of every optional key, in the units of the normalised config
 * (milliseconds, megabytes). The Python module's seconds (`connect_timeout`)
 * are already converted.
 *
 * @example Reading a default
 * ```ts
 * import { DEFAULTS } from "./config.ts";
 * console.log(DEFAULTS.acquireTimeoutMs); // 10000
 * ```
 */
export const DEFAULTS: {
  /** Threading model. */
  readonly type: "non-threaded";
  /** Endpoint TCP port. */
  readonly port: number;
  /** Endpoint user (the database defaults to the user). */
  readonly user: string;
  /** Endpoint TLS mode. */
  readonly ssl: SslMode;
  /** `connect_timeout` (10 s), in ms. */
  readonly connectTimeoutMs: number;
  /** `query_timeout`, in ms. */
  readonly queryTimeoutMs: number;
  /** `session_tmp_buffer`, in MB. */
  readonly sessionTmpBufferMb: number;
  /** `application_name`. */
  readonly applicationName: string;
  /** Group `autocommit`. */
  readonly autocommit: boolean;
  /** How long a lease waits for a free connection, in ms. */
  readonly acquireTimeoutMs: number;
  /** Idle time after which a connection is pinged before use, in ms. */
  readonly pingAfterIdleMs: number;
  /** How long `end()` waits for leased handlers, in ms. */
  readonly endTimeoutMs: number;
  /** First back-off of a failing endpoint, in ms. */
  readonly reconnectBaseMs: number;
  /** Longest back-off of a failing endpoint, in ms. */
  readonly reconnectMaxMs: number;
} = Object.freeze({
  type: "non-threaded",
  port: 5432,
  user: "postgres",
  ssl: "disable",
  connectTimeoutMs: 10_000,
  queryTimeoutMs: 5000,
  sessionTmpBufferMb: 128,
  applicationName: "pgdbpool",
  autocommit: true,
  acquireTimeoutMs: 10_000,
  pingAfterIdleMs: 1000,
  endTimeoutMs: 5000,
  reconnectBaseMs: 250,
  reconnectMaxMs: 10_000,
});

const SSL_MODES: readonly SslMode[] = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

/** Each endpoint field with the keys that may spell it, seed-style first. */
const ENDPOINT_KEYS = {
  host: ["host"],
  port: ["port"],
  database: ["name", "database"],
  user: ["user"],
  password: ["pass", "password"],
  ssl: ["ssl"],
  sslRootCert: ["sslrootcert", "sslRootCert"],
  connectTimeout: ["connect_timeout", "connectTimeout"],
  queryTimeout: ["query_timeout", "queryTimeout"],
  sessionTmpBuffer: ["session_tmp_buffer", "sessionTmpBuffer"],
  applicationName: ["application_name", "applicationName"],
  retrySleep: ["connection_retry_sleep", "connectionRetrySleep"],
} as const;
type EndpointField = keyof typeof ENDPOINT_KEYS;
type EndpointFields = Partial<Record<EndpointField, Field>>;

/** URL query parameters and the endpoint field each sets (`host` is handled apart). */
const URL_PARAMS: Readonly<Record<string, EndpointField>> = {
  host: "host",
  sslmode: "ssl",
  sslrootcert: "sslRootCert",
  connect_timeout: "connectTimeout",
  application_name: "applicationName",
  query_timeout: "queryTimeout",
  session_tmp_buffer: "sessionTmpBuffer",
};

const GROUP_KEYS = ["connection_count", "connectionCount", "autocommit"] as const;

/** Top-level durations: camelCase name, seed-style alias, and whether 0 is allowed. */
const DURATIONS = [
  ["acquireTimeoutMs", "acquire_timeout_ms", false],
  ["pingAfterIdleMs", "ping_after_idle_ms", true],
  ["endTimeoutMs", "end_timeout_ms", true],
  ["reconnectBaseMs", "reconnect_base_ms", true],
  ["reconnectMaxMs", "reconnect_max_ms", true],
] as const;
type DurationKey = (typeof DURATIONS)[number][0];

const TOP_KEYS: readonly string[] = [
  "type",
  "db",
  "groups",
  "driver",
  ...DURATIONS.flatMap(([camel, seed]) => [camel, seed]),
];

// PostgreSQL limits: statement_timeout is an int of ms; temp_buffers at most
// 1073741823 blocks of 8 kB; application_name is cut at NAMEDATALEN - 1 bytes.
const MAX_QUERY_TIMEOUT_MS = 2_147_483_647;
const MAX_TMP_BUFFER_MB = 8_388_607;
const MAX_APPLICATION_NAME_BYTES = 63;

const PASSWORDS = new WeakMap<EndpointConfig, string>();
const UTF8 = new TextEncoder();

/** One received value, ready to be validated and quoted in a message. */
interface Field {
  /** Dotted path of the key, e.g. `db[1].port`. */
  readonly path: string;
  readonly value: unknown;
  /** The value as quoted in messages; never a password. */
  readonly got: string;
  /** The value came as text (a URL), so numeric strings stand for numbers. */
  readonly text: boolean;
  /** Appended to messages, e.g. the redacted URL the value came from. */
  readonly where: string;
}

/**
 * Turns user input into a frozen, fully-defaulted {@linkcode PoolConfig}:
 * seed-style keys and camelCase aliases, one endpoint, a list, or `postgres://`
 * URLs (multi-host too); units translated to milliseconds and megabytes;
 * defaults from {@linkcode DEFAULTS}. Passwords are kept apart (see
 * {@linkcode passwordOf}). Pure: the input is neither changed nor kept.
 *
 * @param input The configuration as the user wrote it ({@linkcode PoolConfigInput}).
 * @returns The normalised configuration, deeply frozen (except the driver, the caller's object).
 * @throws {ConfigError} When a key is unknown, missing or invalid; `path` names it
 *   and the message quotes the value received, with passwords masked.
 *
 * @example Seed-style keys, as in the Python module
 * ```ts
 * import { normalizeConfig } from "./config.ts";
 * const config = normalizeConfig({
 *   db: { host: "db1", name: "app", user: "app", pass: "secret", connect_timeout: 3 },
 *   groups: { default: { connection_count: 10 } },
 * });
 * console.log(config.endpoints[0].connectTimeoutMs); // 3000
 * ```
 *
 * @example A multi-host URL
 * ```ts
 * import { normalizeConfig } from "./config.ts";
 * const config = normalizeConfig({
 *   db: "postgres://app@db1,db2:5433/app?sslmode=require",
 *   groups: { default: { connectionCount: 10 } },
 * });
 * console.log(config.endpoints.map((e) => `${e.host}:${e.port}`)); // ["db1:5432", "db2:5433"]
 * ```
 */
export function normalizeConfig(input: unknown): PoolConfig {
  if (!isRecord(input)) {
    throw new ConfigError(
      "",
      `expected a config object with "db" and "groups", got ${render(input)}`,
    );
  }
  rejectUnknownKeys(input, "", TOP_KEYS);
  const { endpoints, retrySleep } = endpointsOf(input.db);
  const groups = groupsOf(input.groups);
  const type = pick(input, "", ["type"]);
  const durations = {} as Record<DurationKey, number>;
  const given = {} as Record<DurationKey, Field | undefined>;
  for (const [camel, seed, zeroOk] of DURATIONS) {
    const field = pick(input, "", [camel, seed]);
    given[camel] = field;
    durations[camel] = field ? duration(field, zeroOk) : DEFAULTS[camel];
  }
  if (retrySleep) {
    const base = given.reconnectBaseMs;
    if (base && durations.reconnectBaseMs !== retrySleep.ms) {
      throw new ConfigError(
        retrySleep.field.path,
        `conflicts with "${base.path}": ${retrySleep.field.got} s sets reconnectBaseMs to ${retrySleep.ms}, but "${base.path}" is ${base.got}`,
      );
    }
    durations.reconnectBaseMs = retrySleep.ms;
  }
  checkBackoffPair(durations, given.reconnectMaxMs, retrySleep?.field.path);
  return Object.freeze({
    type: type ? oneOf(type, ["non-threaded", "threaded"]) : DEFAULTS.type,
    endpoints: Object.freeze(endpoints),
    groups,
    driver: driverOf(input.driver),
    ...durations,
  });
}

/**
 * The password of a normalised endpoint. It lives outside the endpoint object
 * so that `JSON.stringify`, `Deno.inspect` and `util.inspect` never show it; a
 * copy of the endpoint (`{ ...endpoint }`) has no password.
 *
 * @param endpoint An endpoint of a config returned by {@linkcode normalizeConfig}.
 * @returns The password, or `undefined` if none was configured.
 *
 * @example
 * ```ts
 * import { normalizeConfig, passwordOf } from "./config.ts";
 * const config = normalizeConfig({ db: "postgres://app:s3cret@db1/app", groups: { g: { connection_count: 1 } } });
 * console.log(passwordOf(config.endpoints[0])); // "s3cret"
 * ```
 */
export function passwordOf(endpoint: EndpointConfig): string | undefined {
  return PASSWORDS.get(endpoint);
}

/**
 * Renders an endpoint as `host:port` (`[::1]:5432` for IPv6), never with
 * credentials. Every message that names an endpoint goes through it.
 *
 * @param endpoint Anything with a host and a port.
 * @returns `host:port`.
 *
 * @example
 * ```ts
 * import { describeEndpoint } from "./config.ts";
 * console.log(describeEndpoint({ host: "::1", port: 5432 })); // "[::1]:5432"
 * ```
 */
export function describeEndpoint(endpoint: { host: string; port: number }): string {
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}`;
}

/**
 * Masks the password of a connection URL with `****`. Errs on the side of
 * masking: a malformed URL (say, a password with a raw `/` or `@`) is masked
 * from the first `:` after the scheme up to the last `@`.
 *
 * @param url A connection URL, well-formed or not.
 * @returns The URL with any password replaced by `****`.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./config.ts";
 * console.log(redactUrl("postgres://app:s3cret@db1/app")); // "postgres://app:****@db1/app"
 * ```
 */
export function redactUrl(url: string): string {
  const secret = secretRange(url);
  return secret ? `${url.slice(0, secret[0])}****${url.slice(secret[1])}` : url;
}

// ---------------------------------------------------------------- endpoints

function endpointsOf(
  db: unknown,
): { endpoints: EndpointConfig[]; retrySleep?: { ms: number; field: Field } } {
  const expected = "an endpoint object, a postgres:// URL, or a list of them";
  if (db === undefined) throw new ConfigError("db", `is required: expected ${expected}`);
  const list = Array.isArray(db) ? db : [db];
  if (list.length === 0) throw new ConfigError("db", `expected ${expected}, got an empty array`);
  const endpoints: EndpointConfig[] = [];
  let retrySleep: { ms: number; field: Field } | undefined;
  list.forEach((item: unknown, i) => {
    const at = Array.isArray(db) ? `db[${i}]` : "db";
    if (typeof item === "string") {
      const { hosts, password } = parseUrl(item, at);
      for (const fields of hosts) endpoints.push(buildEndpoint(fields, password, at));
      return;
    }
    if (!isRecord(item)) throw new ConfigError(at, `expected ${expected}, got ${render(item)}`);
    const allowed = Object.values(ENDPOINT_KEYS).flat();
    rejectUnknownKeys(item, at, allowed);
    const fields: EndpointFields = {};
    for (const [name, keys] of Object.entries(ENDPOINT_KEYS)) {
      const secret = name === "password";
      fields[name as EndpointField] = pick(item, at, keys, secret ? renderSecret : render);
    }
    const password = fields.password && passwordField(fields.password);
    endpoints.push(buildEndpoint(fields, password, at));
    if (fields.retrySleep) {
      const ms = Math.round(seconds(fields.retrySleep, true));
      if (retrySleep && retrySleep.ms !== ms) {
        throw new ConfigError(
          fields.retrySleep.path,
          `expected the same value on every endpoint (it sets the pool's reconnectBaseMs), got ${fields.retrySleep.got} here and ${retrySleep.field.got} at "${retrySleep.field.path}"`,
        );
      }
      retrySleep ??= { ms, field: fields.retrySleep };
    }
  });
  return { endpoints, retrySleep };
}

function buildEndpoint(
  f: EndpointFields,
  password: string | undefined,
  at: string,
): EndpointConfig {
  if (!f.host) {
    throw new ConfigError(
      `${at}.host`,
      "is required: expected a host name, IP address or socket directory",
    );
  }
  const user = f.user ? nonEmptyString(f.user, "a user name") : DEFAULTS.user;
  const endpoint: EndpointConfig = Object.freeze({
    host: hostField(f.host),
    port: f.port ? integer(f.port, 1, 65535, true) : DEFAULTS.port,
    database: f.database ? nonEmptyString(f.database, "a database name") : user,
    user,
    ssl: f.ssl ? sslMode(f.ssl) : DEFAULTS.ssl,
    sslRootCert: f.sslRootCert ? nonEmptyString(f.sslRootCert, "a PEM certificate") : undefined,
    connectTimeoutMs: f.connectTimeout
      ? Math.max(1, Math.round(seconds(f.connectTimeout, false)))
      : DEFAULTS.connectTimeoutMs,
    queryTimeoutMs: f.queryTimeout
      ? integer(f.queryTimeout, 0, MAX_QUERY_TIMEOUT_MS)
      : DEFAULTS.queryTimeoutMs,
    sessionTmpBufferMb: f.sessionTmpBuffer
      ? integer(f.sessionTmpBuffer, 1, MAX_TMP_BUFFER_MB)
      : DEFAULTS.sessionTmpBufferMb,
    applicationName: f.applicationName
      ? applicationName(f.applicationName)
      : DEFAULTS.applicationName,
  });
  if (password !== undefined) PASSWORDS.set(endpoint, password);
  return endpoint;
}

// ---------------------------------------------------------------- URLs

/**
 * Parses a libpq connection URL by hand: the URL class cannot read a
 * multi-host authority (`h1:5432,h2:5433`). Every message quotes the URL
 * through {@linkcode redactUrl}, and quotes a part of it only when that part
 * lies outside the masked range, so a mistyped password never leaks.
 */
function parseUrl(url: string, at: string): { hosts: EndpointFields[]; password?: string } {
  const where = ` (in ${JSON.stringify(redactUrl(url))})`;
  const scheme = /^postgres(?:ql)?:\/\//.exec(url);
  if (!scheme) {
    // A libpq key=value string may hold "password=..." in clear: never quote it.
    const got = url.includes("=") ? "a key=value string" : JSON.stringify(redactUrl(url));
    throw new ConfigError(
      at,
      `expected a URL starting with postgres:// or postgresql://, got ${got}`,
    );
  }
  const secret = secretRange(url);
  const hidden = (start: number, end: number): boolean =>
    secret !== undefined && start <= secret[1] && end >= secret[0];
  const shown = (start: number, end: number): string =>
    hidden(start, end)
      ? "a value next to the password (not shown)"
      : JSON.stringify(url.slice(start, end));
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key ? `${at}.${key}` : at, message + where);
  };
  const decode = (start: number, end: number, key: string): string => {
    try {
      return decodeURIComponent(url.slice(start, end));
    } catch {
      return fail(key, `expected valid percent-encoding, got ${shown(start, end)}`);
    }
  };
  const field = (key: string, value: string, start: number, end: number): Field => ({
    path: `${at}.${key}`,
    value,
    got: shown(start, end),
    text: true,
    where,
  });

  const base = scheme[0].length;
  const slashOrQuery = url.slice(base).search(/[/?]/);
  const authorityEnd = slashOrQuery < 0 ? url.length : base + slashOrQuery;
  const queryStart = url.indexOf("?", authorityEnd);
  const pathEnd = queryStart < 0 ? url.length : queryStart;
  const shared: EndpointFields = {};
  let password: string | undefined;

  // The last "@" of the authority ends the user info, so a raw "@" in a
  // password still parses; the first ":" ends the user name.
  const atSign = url.lastIndexOf("@", authorityEnd - 1);
  const hostStart = atSign >= base ? atSign + 1 : base;
  if (atSign >= base) {
    const colon = url.indexOf(":", base);
    const userEnd = colon >= 0 && colon < atSign ? colon : atSign;
    const user = decode(base, userEnd, "user");
    if (user) shared.user = field("user", user, base, userEnd);
    if (userEnd < atSign) password = decode(userEnd + 1, atSign, "password") || undefined;
  }
  if (url[authorityEnd] === "/" && authorityEnd + 1 < pathEnd) {
    // A raw "/" or "@" here most likely comes from a password with a raw "/":
    // refuse it rather than connect to a database named after half a password.
    if (/[/@]/.test(url.slice(authorityEnd + 1, pathEnd))) {
      fail(
        "database",
        `expected a database name with "/" and "@" percent-encoded (%2F, %40), as in a password, got ${
          shown(authorityEnd + 1, pathEnd)
        }`,
      );
    }
    const database = decode(authorityEnd + 1, pathEnd, "database");
    shared.database = field("database", database, authorityEnd + 1, pathEnd);
  }

  let hostParam: Field | undefined;
  if (queryStart >= 0) {
    let start = queryStart + 1;
    while (start <= url.length) {
      const amp = url.indexOf("&", start);
      const end = amp < 0 ? url.length : amp;
      if (end > start) {
        const eq = url.indexOf("=", start);
        if (eq < 0 || eq >= end) {
          fail("", `expected name=value parameters, got ${shown(start, end)}`);
        }
        const name = decode(start, eq, "");
        const target = URL_PARAMS[name];
        if (!Object.hasOwn(URL_PARAMS, name) || !target) {
          // The name may be a piece of a mistyped password: then it stays out of the path too.
          fail(
            hidden(start, eq) ? "" : name,
            `unknown URL parameter ${shown(start, eq)}: expected one of ${
              Object.keys(URL_PARAMS).join(", ")
            }`,
          );
        }
        const value = field(name, decode(eq + 1, end, name), eq + 1, end);
        if (target === "host") hostParam = value;
        else if (shared[target]) fail(name, "is given twice");
        else shared[target] = value;
      }
      start = end + 1;
    }
  }

  const hosts = hostSpecs(url, hostStart, authorityEnd, { shown, fail, decode, field });
  if (hostParam) {
    // libpq's ?host= names socket directories (or hosts) when the authority has none.
    if (hosts.some((h) => h.host)) {
      fail("host", "is given twice: name hosts either before the path or in ?host=, not both");
    }
    const port = hosts.length === 1 ? hosts[0].port : undefined;
    const names = String(hostParam.value).split(",");
    return {
      hosts: names.map((name) => ({
        ...shared,
        host: { ...hostParam, value: name },
        port,
      })),
      password,
    };
  }
  if (hosts.length === 0) fail("host", "is required: expected a host after the //");
  return { hosts: hosts.map((h) => ({ ...shared, ...h })), password };
}

interface UrlTools {
  shown(start: number, end: number): string;
  fail(key: string, message: string): never;
  decode(start: number, end: number, key: string): string;
  field(key: string, value: string, start: number, end: number): Field;
}

/** Splits `h1:5432,[::1]:5433,h3` into host and port fields; `[]` for an empty authority. */
function hostSpecs(
  url: string,
  start: number,
  end: number,
  t: UrlTools,
): { host?: Field; port?: Field }[] {
  if (start === end) return [];
  const specs: { host?: Field; port?: Field }[] = [];
  for (let s = start; s <= end;) {
    const comma = url.indexOf(",", s);
    const e = comma < 0 || comma > end ? end : comma;
    if (e === s) t.fail("host", `expected a host between the commas, got ${t.shown(start, end)}`);
    let hostEnd = e;
    let portStart = -1;
    let host: string;
    if (url[s] === "[") {
      const close = url.indexOf("]", s);
      if (close < 0 || close >= e) {
        t.fail("host", `expected "]" to close the IPv6 address ${t.shown(s, e)}`);
      }
      if (close + 1 < e && url[close + 1] !== ":") {
        t.fail("host", `expected ":" and a port after "]", got ${t.shown(s, e)}`);
      }
      host = t.decode(s + 1, close, "host");
      portStart = close + 1 < e ? close + 2 : -1;
      hostEnd = close + 1;
    } else {
      const colon = url.indexOf(":", s);
      if (colon >= 0 && colon < e) {
        if (url.indexOf(":", colon + 1) >= 0 && url.indexOf(":", colon + 1) < e) {
          t.fail(
            "host",
            `expected an IPv6 address in brackets like [::1]:5432, got ${t.shown(s, e)}`,
          );
        }
        hostEnd = colon;
        portStart = colon + 1;
      }
      host = t.decode(s, hostEnd, "host");
    }
    specs.push({
      host: host ? t.field("host", host, s, hostEnd) : undefined,
      port: portStart >= 0 ? t.field("port", url.slice(portStart, e), portStart, e) : undefined,
    });
    s = e + 1;
  }
  return specs;
}

/**
 * The range `redactUrl` masks: from the first ":" after the scheme to the last
 * "@", so that a password holding a raw "/", "?" or "@" is still covered.
 */
function secretRange(url: string): [number, number] | undefined {
  const scheme = url.indexOf("://");
  const start = scheme < 0 ? 0 : scheme + 3;
  const atSign = url.lastIndexOf("@");
  const colon = url.indexOf(":", start);
  return atSign > start && colon >= 0 && colon < atSign ? [colon + 1, atSign] : undefined;
}

// ---------------------------------------------------------------- groups, driver

function groupsOf(groups: unknown): Readonly<Record<string, GroupConfig>> {
  const example = "e.g. { default: { connection_count: 10 } }";
  if (groups === undefined) {
    throw new ConfigError("groups", `is required: expected groups by name, ${example}`);
  }
  if (!isRecord(groups)) {
    throw new ConfigError("groups", `expected groups by name, ${example}, got ${render(groups)}`);
  }
  const names = Object.keys(groups);
  if (names.length === 0) {
    throw new ConfigError("groups", `expected at least one group, ${example}, got an empty object`);
  }
  // A null prototype: `groups[name]` finds configured groups only, never "toString".
  const out: Record<string, GroupConfig> = Object.create(null);
  for (const name of names) {
    const at = groupPath(name);
    if (name === "") throw new ConfigError(at, "expected a non-empty group name");
    const group = groups[name];
    if (!isRecord(group)) {
      throw new ConfigError(at, `expected an object with connection_count, got ${render(group)}`);
    }
    rejectUnknownKeys(group, at, GROUP_KEYS);
    const count = pick(group, at, ["connection_count", "connectionCount"]);
    if (!count) {
      throw new ConfigError(`${at}.connection_count`, "is required: expected an integer ≥ 1");
    }
    const autocommit = pick(group, at, ["autocommit"]);
    if (autocommit && typeof autocommit.value !== "boolean") fail(autocommit, "true or false");
    out[name] = Object.freeze({
      connectionCount: integer(count, 1, Number.MAX_SAFE_INTEGER),
      autocommit: autocommit ? autocommit.value as boolean : DEFAULTS.autocommit,
    });
  }
  return Object.freeze(out);
}

function groupPath(name: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(name) ? `groups.${name}` : `groups[${JSON.stringify(name)}]`;
}

function driverOf(driver: unknown): Driver | undefined {
  if (driver === undefined) return undefined;
  const d = driver as Partial<Driver> | null;
  if (
    (typeof driver !== "object" && typeof driver !== "function") || d === null ||
    typeof d.name !== "string" || typeof d.connect !== "function"
  ) {
    throw new ConfigError(
      "driver",
      `expected an object with a string "name" and a "connect" function, got ${render(driver)}`,
    );
  }
  return driver as Driver;
}

function checkBackoffPair(
  durations: Record<DurationKey, number>,
  maxField: Field | undefined,
  baseSource: string | undefined,
): void {
  const { reconnectBaseMs: base, reconnectMaxMs: max } = durations;
  if (max >= base) return;
  const got = maxField ? maxField.got : `${max} (the default)`;
  const from = baseSource ? `, from "${baseSource}"` : "";
  throw new ConfigError(
    maxField?.path ?? "reconnectMaxMs",
    `expected at least reconnectBaseMs (${base}${from}), got ${got}`,
  );
}

// ---------------------------------------------------------------- validators

function pick(
  obj: Record<string, unknown>,
  at: string,
  keys: readonly string[],
  show: (value: unknown) => string = render,
): Field | undefined {
  let found: Field | undefined;
  for (const key of keys) {
    const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
    if (value === undefined) continue;
    const field = {
      path: at ? `${at}.${key}` : key,
      value,
      got: show(value),
      text: false,
      where: "",
    };
    if (found && !Object.is(found.value, value)) {
      const values = show === render ? `: ${found.got} and ${field.got}` : "";
      throw new ConfigError(
        field.path,
        `conflicts with its alias "${found.path}": give one, or the same value${values}`,
      );
    }
    found ??= field;
  }
  return found;
}

function rejectUnknownKeys(
  obj: Record<string, unknown>,
  at: string,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(
        at ? `${at}.${key}` : key,
        `unknown key: expected one of ${allowed.join(", ")}`,
      );
    }
  }
}

function fail(f: Field, expected: string): never {
  throw new ConfigError(f.path, `expected ${expected}, got ${f.got}${f.where}`);
}

function integer(f: Field, min: number, max: number, numericString = f.text): number {
  const n = typeof f.value === "number"
    ? f.value
    : numericString && typeof f.value === "string" && /^\d+$/.test(f.value)
    ? Number(f.value)
    : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    fail(f, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer ${min}..${max}`);
  }
  return n;
}

/** Seconds (the Python module's unit) to milliseconds. */
function seconds(f: Field, zeroOk: boolean): number {
  const n = typeof f.value === "number"
    ? f.value
    : f.text && typeof f.value === "string" && /^\d+(?:\.\d+)?$/.test(f.value)
    ? Number(f.value)
    : NaN;
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) {
    fail(f, zeroOk ? "a number of seconds ≥ 0" : "a number of seconds > 0");
  }
  return n * 1000;
}

function duration(f: Field, zeroOk: boolean): number {
  const n = f.value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) {
    fail(f, zeroOk ? "a finite number of milliseconds ≥ 0" : "a finite number of milliseconds > 0");
  }
  return n;
}

function nonEmptyString(f: Field, what: string): string {
  if (typeof f.value !== "string" || f.value === "") fail(f, `${what} (a non-empty string)`);
  return f.value;
}

function hostField(f: Field): string {
  const host = nonEmptyString(f, "a host name, IP address or socket directory");
  if (!f.text && host.includes(",")) {
    fail(f, "one host (list several endpoints, or use a multi-host URL)");
  }
  if (!f.text && host.startsWith("[")) fail(f, "an IPv6 address without brackets");
  return host;
}

function sslMode(f: Field): SslMode {
  const hint = typeof f.value === "boolean" ? ` (write "disable" or "require", not a boolean)` : "";
  if (!SSL_MODES.includes(f.value as SslMode)) {
    fail({ ...f, where: hint + f.where }, `one of ${SSL_MODES.map((m) => `"${m}"`).join(", ")}`);
  }
  return f.value as SslMode;
}

function oneOf<T extends string>(f: Field, values: readonly T[]): T {
  if (!values.includes(f.value as T)) fail(f, `one of ${values.map((v) => `"${v}"`).join(", ")}`);
  return f.value as T;
}

function applicationName(f: Field): string {
  if (typeof f.value !== "string" || UTF8.encode(f.value).length > MAX_APPLICATION_NAME_BYTES) {
    fail(f, `a string of at most ${MAX_APPLICATION_NAME_BYTES} bytes`);
  }
  return f.value;
}

function passwordField(f: Field): string | undefined {
  if (typeof f.value !== "string") fail(f, "a string");
  return f.value === "" ? undefined : f.value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Quotes a received value for a message; long strings are cut. */
function render(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return value.length ? "an array" : "an empty array";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

/** Describes a password without quoting it. */
function renderSecret(value: unknown): string {
  return typeof value === "string" ? "a string (not shown)" : `a value of type ${typeof value}`;
}
