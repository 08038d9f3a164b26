/**
 * Builds the default pool's configuration from the environment: `DATABASE_URL`,
 * or libpq's `PG*` variables. Used only for the default pool when `init()` was
 * never called; the rest of the library never reads the environment.
 *
 * @module
 */
import { type EndpointInput, normalizeConfig, type PoolConfigInput } from "./normalize.ts";
import type { SslMode } from "../driver.ts";
import { ConfigError } from "../errors.ts";

/**
 * Reads one environment variable; `undefined` when it is unset.
 */
export type EnvReader = (name: string) => string | undefined;

// The runtimes, typed structurally so that no runtime's type package is needed.
interface RuntimeGlobals {
  Deno?: { env?: { get(name: string): string | undefined } };
  process?: { env?: Record<string, string | undefined> };
}

const DEFAULT_CONNECTION_COUNT = 10;

/**
 * Builds a {@linkcode PoolConfigInput} for the default pool from the
 * environment. `DATABASE_URL` wins; otherwise, when `PGHOST`, `PGDATABASE` or
 * `PGUSER` is set, one endpoint per host of `PGHOST` (a comma list; default
 * `localhost`) with `PGPORT` (one port, or one per host), `PGDATABASE`,
 * `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`
 * (seconds) and `PGTARGETSESSIONATTRS` (the group's `target_session_attrs`).
 * The one group, `default`, opens `PGDBPOOL_CONNECTION_COUNT` connections
 * (default 10). Empty variables count as unset. libpq variables the pool
 * cannot honour (`PGSERVICE`, `PGSERVICEFILE`, `PGHOSTADDR`, `PGSSLROOTCERT`,
 * `PGSSLCERT`, `PGSSLKEY`, `PGPASSFILE`, `PGOPTIONS`) are refused when set,
 * not ignored: the library reads no files.
 *
 * The result is validated: an error names the variable that holds the wrong
 * value (`PGPORT`, `DATABASE_URL`), not a config path.
 *
 * @param env Reads a variable; by default `Deno.env.get` (when permitted),
 *   else `process.env`. Tests pass their own.
 * @returns The configuration input of the default pool.
 * @throws {ConfigError} When nothing is configured (path `""`), or when a
 *   variable is wrong or unsupported (path: the variable's name).
 */
export function configFromEnv(env: EnvReader = runtimeEnv): PoolConfigInput {
  const read = (name: string): string | undefined => env(name) || undefined;
  const groups = { default: { connection_count: connectionCount(read) } };
  const url = read("DATABASE_URL");
  if (url) return checked({ db: url, groups }, true);
  refuseUnsupported(read);
  // As in libpq, a fallback for the PG* variables only: a URL carries its own.
  const target = read("PGTARGETSESSIONATTRS");
  if (target) Object.assign(groups.default, { target_session_attrs: target });
  if (!read("PGHOST") && !read("PGDATABASE") && !read("PGUSER")) {
    throw new ConfigError(
      "",
      "no pool configured: call init(config), or set DATABASE_URL or PGHOST (and PGUSER, PGDATABASE, PGPASSWORD)",
    );
  }
  const hosts = (read("PGHOST") ?? "localhost").split(",").map((h) => h.trim());
  const ports = read("PGPORT")?.split(",").map((p) => p.trim());
  if (ports && ports.length !== 1 && ports.length !== hosts.length) {
    throw new ConfigError(
      "PGPORT",
      `expected one port, or one per host of PGHOST (${hosts.length}), got ${
        JSON.stringify(read("PGPORT"))
      }`,
    );
  }
  const shared: EndpointInput = withoutUndefined({
    name: read("PGDATABASE"),
    user: read("PGUSER"),
    pass: read("PGPASSWORD"),
    ssl: read("PGSSLMODE") as SslMode | undefined,
    application_name: read("PGAPPNAME"),
    connect_timeout: seconds(read, "PGCONNECT_TIMEOUT"),
  });
  const db = hosts.map((host, i): EndpointInput =>
    withoutUndefined({ ...shared, host, port: ports?.[ports.length === 1 ? 0 : i] })
  );
  return checked({ db: db.length === 1 ? db[0] : db, groups }, false);
}

/** libpq variables the pool cannot honour, and why: set, they are refused, not ignored. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  PGSERVICE: "the library reads no service file",
  PGSERVICEFILE: "the library reads no service file",
  PGHOSTADDR: "give the address in PGHOST",
  PGSSLROOTCERT: "the library reads no files: pass sslrootcert (PEM text) to init()",
  PGSSLCERT: "client certificates are not supported",
  PGSSLKEY: "client certificates are not supported",
  PGPASSFILE: "the library reads no password file: set PGPASSWORD",
  PGOPTIONS: "no server options are sent: use ALTER ROLE … SET, or on_connect",
};

function refuseUnsupported(read: EnvReader): void {
  for (const [name, why] of Object.entries(UNSUPPORTED)) {
    if (read(name) !== undefined) {
      throw new ConfigError(
        name,
        `is set, but the pool cannot honour it (${why}): unset it, or call init(config), or set DATABASE_URL`,
      );
    }
  }
}

// The variable behind each endpoint key the PG* variables fill in.
const VARIABLES: Readonly<Record<string, string>> = {
  host: "PGHOST",
  port: "PGPORT",
  name: "PGDATABASE",
  user: "PGUSER",
  pass: "PGPASSWORD",
  ssl: "PGSSLMODE",
  application_name: "PGAPPNAME",
  connect_timeout: "PGCONNECT_TIMEOUT",
};

function variableOf(path: string, fromUrl: boolean): string | undefined {
  if (path === "groups.default.connection_count") return "PGDBPOOL_CONNECTION_COUNT";
  if (fromUrl) return path.startsWith("db") ? "DATABASE_URL" : undefined;
  if (path === "groups.default.target_session_attrs") return "PGTARGETSESSIONATTRS";
  const key = /^db(?:\[\d+\])?\.(\w+)$/.exec(path)?.[1];
  return key === undefined ? undefined : VARIABLES[key];
}

/**
 * Validates the input now, so that an error names the variable the user set
 * (`PGPORT`), not a config path they never wrote (`db[1].port`).
 */
function checked(input: PoolConfigInput, fromUrl: boolean): PoolConfigInput {
  try {
    normalizeConfig(input);
  } catch (err) {
    const name = err instanceof ConfigError ? variableOf(err.path, fromUrl) : undefined;
    if (name === undefined) throw err;
    const error = err as ConfigError;
    const detail = error.message.slice(`Invalid config "${error.path}": `.length);
    const key = error.path.replace(/^db(?:\[\d+\])?\.?/, "");
    throw new ConfigError(name, key && name === "DATABASE_URL" ? `${key}: ${detail}` : detail);
  }
  return input;
}

function connectionCount(read: EnvReader): number {
  const raw = read("PGDBPOOL_CONNECTION_COUNT");
  if (raw === undefined) return DEFAULT_CONNECTION_COUNT;
  if (!/^\s*\d+\s*$/.test(raw) || Number(raw) < 1) {
    throw new ConfigError(
      "PGDBPOOL_CONNECTION_COUNT",
      `expected an integer ≥ 1, got ${JSON.stringify(raw)}`,
    );
  }
  return Number(raw);
}

function seconds(read: EnvReader, name: string): number | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  if (!/^\s*\d+(?:\.\d+)?\s*$/.test(raw)) {
    throw new ConfigError(name, `expected a number of seconds, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function withoutUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/** Reads the runtime's environment; a denied permission reads as unset. */
function runtimeEnv(name: string): string | undefined {
  const g = globalThis as RuntimeGlobals;
  try {
    if (g.Deno?.env) return g.Deno.env.get(name);
  } catch {
    return undefined;
  }
  try {
    return g.process?.env?.[name];
  } catch {
    return undefined;
  }
}
