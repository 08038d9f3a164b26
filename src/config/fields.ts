/**
 * Reading keys from user input: a received value becomes a {@linkcode Field}
 * that knows its dotted path and how to quote itself; {@linkcode pick} finds a
 * key under any of its aliases, {@linkcode rejectUnknownKeys} refuses typos,
 * and {@linkcode fail} throws the one message shape every validator uses.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { redactUrl } from "../redact.ts";

/**
 * One received value, ready to be validated and quoted in a message.
 */
export interface Field {
  /** Dotted path of the key, e.g. `db[1].port`. */
  readonly path: string;
  /** The value as received, before validation. */
  readonly value: unknown;
  /** The value as quoted in messages; never a password. */
  readonly got: string;
  /** The value came as text (a URL), so numeric strings stand for numbers. */
  readonly text: boolean;
  /** Appended to messages, e.g. the redacted URL the value came from. */
  readonly where: string;
}

/**
 * Each endpoint field with the keys that may spell it, seed-style first.
 */
export const ENDPOINT_KEYS = {
  id: ["id"],
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
  poolMode: ["pool_mode", "poolMode"],
} as const;

/**
 * The name of an endpoint field, as in {@linkcode ENDPOINT_KEYS}.
 */
export type EndpointField = keyof typeof ENDPOINT_KEYS;

/**
 * The fields of one endpoint as received, before validation and defaults.
 */
export type EndpointFields = Partial<Record<EndpointField, Field>>;

/**
 * Reads one key that may be spelt several ways (`connection_count` or
 * `connectionCount`). An `undefined` value counts as absent.
 *
 * @param obj The object as the user wrote it.
 * @param at The dotted path of `obj` (`""` at the top level).
 * @param keys The spellings of the key, seed-style first.
 * @param show Quotes the value for messages; {@linkcode render} unless the value is secret.
 * @returns The field under the first spelling given, or `undefined` if none is.
 * @throws {ConfigError} When two spellings hold different values.
 */
export function pick(
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

/**
 * Refuses any key of `obj` that is not in `allowed`, so that a typo is an
 * error instead of a silently ignored setting.
 *
 * @param obj The object as the user wrote it.
 * @param at The dotted path of `obj` (`""` at the top level).
 * @param allowed Every key `obj` may hold.
 * @throws {ConfigError} Naming the first unknown key and the keys allowed.
 */
export function rejectUnknownKeys(
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

/**
 * Throws the message every validator uses: what was expected, the value
 * received, and where it came from.
 *
 * @param f The field that is wrong.
 * @param expected What a valid value looks like, e.g. `"an integer ≥ 1"`.
 * @returns Never.
 * @throws {ConfigError} Always, with `f.path` as its path.
 */
export function fail(f: Field, expected: string): never {
  throw new ConfigError(f.path, `expected ${expected}, got ${f.got}${f.where}`);
}

/**
 * Tells a plain object (not `null`, not an array) from other values.
 *
 * @param value Any value.
 * @returns Whether `value` is an object whose keys can be read as settings.
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    builtinKind(value) === undefined;
}

// Built-in objects whose contents are no own keys: read as settings, a Map or a
// URL would look empty ("db.host is required") instead of wrong.
const BUILTINS: readonly [string, string][] = [
  ["URL", "a URL object"],
  ["Map", "a Map"],
  ["Set", "a Set"],
  ["Date", "a Date"],
  ["RegExp", "a RegExp"],
  ["Promise", "a Promise"],
  ["ArrayBuffer", "binary data"],
];

/**
 * Names a built-in object that cannot hold settings (`"a Map"`, `"a URL object"`).
 *
 * @param value Any value.
 * @returns Its description, or `undefined` for any other value.
 */
export function builtinKind(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (ArrayBuffer.isView(value)) return "binary data";
  const global = globalThis as unknown as Record<string, unknown>;
  for (const [name, kind] of BUILTINS) {
    const ctor = global[name];
    if (typeof ctor === "function" && value instanceof ctor) return kind;
  }
  return undefined;
}

/**
 * Quotes a received value for a message; long strings are cut.
 *
 * @param value Any value but a password (see `renderSecret` in `redact.ts`).
 * @returns A JSON string, a description of an object, or the value as text.
 */
export function render(value: unknown): string {
  if (typeof value === "string") {
    // A connection string given where it does not belong still carries a password.
    if (/\bpassword\s*=/i.test(value)) return "a key=value string (not shown)";
    const shown = redactUrl(value); // masked before cutting, so no fragment survives
    return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown);
  }
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return value.length ? "an array" : "an empty array";
  if (typeof value === "object" && value !== null) return builtinKind(value) ?? "an object";
  return String(value);
}
