/**
 * The `db` key: one endpoint, a list, or connection URLs, turned into frozen
 * {@linkcode EndpointConfig}s with defaults applied and units translated
 * (`connect_timeout` seconds to milliseconds). Passwords come back apart, for
 * `normalize.ts` to keep out of the endpoint objects.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { EndpointConfig } from "./endpoint_types.ts";
import { DEFAULTS } from "./defaults.ts";
import {
  ENDPOINT_KEYS,
  type EndpointField,
  type EndpointFields,
  type Field,
  isRecord,
  pick,
  rejectUnknownKeys,
  render,
} from "./fields.ts";
import {
  applicationName,
  hostField,
  integer,
  nonEmptyString,
  oneOf,
  passwordField,
  pemText,
  seconds,
  sslMode,
} from "./validators.ts";
import { POOL_MODES } from "./session_keys.ts";
import { parseUrl } from "./url.ts";
import { describeEndpoint, redactCredentials, renderSecret } from "../redact.ts";
import type { PassFunction } from "./pass_function.ts";

// PostgreSQL limits: statement_timeout is an int of ms; temp_buffers at most
// 1073741823 blocks of 8 kB.
const MAX_QUERY_TIMEOUT_MS = 2_147_483_647;
const MAX_TMP_BUFFER_MB = 8_388_607;

/**
 * Normalises the `db` key: each object or URL becomes one endpoint per host,
 * in order. The Python module's `connection_retry_sleep` is returned apart,
 * since it sets the pool's `reconnectBaseMs`.
 *
 * @param db The `db` key as the user wrote it.
 * @returns The endpoints (frozen, without passwords); each endpoint's password,
 *   if it has one; `connection_retry_sleep` in ms with the field that gave
 *   it, if any endpoint did; and a URL's `?target_session_attrs=`, if any.
 * @throws {ConfigError} When `db` is missing, empty or invalid, when two
 *   endpoints share an id, or when two endpoints give different
 *   `connection_retry_sleep` (or two URLs different `target_session_attrs`) values.
 */
export function endpointsOf(
  db: unknown,
): {
  endpoints: EndpointConfig[];
  passwords: Map<EndpointConfig, string | PassFunction>;
  retrySleep?: { ms: number; field: Field };
  targetSessionAttrs?: Field;
} {
  const expected = "an endpoint object, a postgres:// URL, or a list of them";
  if (db === undefined) throw new ConfigError("db", `is required: expected ${expected}`);
  const list = Array.isArray(db) ? db : [db];
  if (list.length === 0) throw new ConfigError("db", `expected ${expected}, got an empty array`);
  const endpoints: EndpointConfig[] = [];
  const passwords = new Map<EndpointConfig, string | PassFunction>();
  const ids = new Map<string, string>();
  const add = (fields: EndpointFields, password: string | PassFunction | undefined, at: string) => {
    const endpoint = buildEndpoint(fields, at);
    const seen = ids.get(endpoint.id);
    if (seen !== undefined) {
      throw new ConfigError(
        fields.id?.path ?? at,
        `expected a unique endpoint id, got ${
          JSON.stringify(endpoint.id)
        } again (first at "${seen}"): give the endpoints distinct "id"s`,
      );
    }
    ids.set(endpoint.id, fields.id?.path ?? at);
    endpoints.push(endpoint);
    if (password !== undefined) passwords.set(endpoint, password);
  };
  let retrySleep: { ms: number; field: Field } | undefined;
  let targetSessionAttrs: Field | undefined;
  list.forEach((given: unknown, i) => {
    const at = Array.isArray(db) ? `db[${i}]` : "db";
    // A URL object (`new URL(process.env.DATABASE_URL)`) stands for its text.
    const item = given instanceof URL ? given.href : given;
    if (typeof item === "string") {
      const url = parseUrl(item, at);
      for (const fields of url.hosts) add(fields, url.password, at);
      const target = url.targetSessionAttrs;
      if (target && targetSessionAttrs && target.value !== targetSessionAttrs.value) {
        throw new ConfigError(
          target.path,
          `expected the same value in every URL (it sets every group's default), got ${target.got} here and ${targetSessionAttrs.got} at "${targetSessionAttrs.path}"`,
        );
      }
      targetSessionAttrs ??= target;
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
    const pass = fields.password;
    // A function is called per new session (see pass_function.ts); a string is checked here.
    const password = typeof pass?.value === "function"
      ? pass.value as PassFunction
      : pass && passwordField(pass);
    add(fields, password, at);
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
  return { endpoints, passwords, retrySleep, targetSessionAttrs };
}

function buildEndpoint(f: EndpointFields, at: string): EndpointConfig {
  if (!f.host) {
    throw new ConfigError(
      `${at}.host`,
      "is required: expected a host name, IP address or socket directory",
    );
  }
  const user = f.user ? nonEmptyString(f.user, "a user name") : DEFAULTS.user;
  const host = hostField(f.host);
  const port = f.port ? integer(f.port, 1, 65535, true) : DEFAULTS.port;
  return Object.freeze({
    id: f.id ? endpointId(f.id) : describeEndpoint({ host, port }),
    host,
    port,
    database: f.database ? nonEmptyString(f.database, "a database name") : user,
    user,
    ssl: f.ssl ? sslMode(f.ssl) : DEFAULTS.ssl,
    sslRootCert: f.sslRootCert ? pemText(f.sslRootCert) : undefined,
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
    poolMode: f.poolMode ? oneOf(f.poolMode, POOL_MODES) : "session",
  });
}

// The id is shown as given, in stats, errors, events and `db.endpoint`: no credentials in it.
function endpointId(f: Field): string {
  const id = nonEmptyString(f, "an endpoint id");
  if (redactCredentials(id) !== id) {
    throw new ConfigError(
      f.path,
      "expected an endpoint id without credentials (it is shown in stats, errors and events), got one holding a password (not shown)",
    );
  }
  return id;
}
