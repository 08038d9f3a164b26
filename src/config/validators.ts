/**
 * The small named validators: each takes one {@linkcode Field}, returns the
 * value in the units of the normalised config, or throws a `ConfigError` that
 * names the path and quotes the value received.
 *
 * @module
 */
import type { SslMode } from "../driver.ts";
import { ConfigError } from "../errors.ts";
import { fail, type Field } from "./fields.ts";

const SSL_MODES: readonly SslMode[] = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

// PostgreSQL cuts application_name at NAMEDATALEN - 1 bytes.
const MAX_APPLICATION_NAME_BYTES = 63;

const UTF8 = new TextEncoder();

/**
 * An integer in `min..max`; from a URL (`f.text`), a string of digits counts.
 *
 * @param f The field to check.
 * @param min The smallest value allowed.
 * @param max The largest value allowed; `Number.MAX_SAFE_INTEGER` for no limit.
 * @param numericString Whether a string of digits stands for its number; by default when `f.text`.
 * @returns The integer.
 * @throws {ConfigError} When the value is not an integer in range.
 */
export function integer(f: Field, min: number, max: number, numericString = f.text): number {
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

/**
 * Seconds (the Python module's unit) to milliseconds.
 *
 * @param f The field to check: a number, or from a URL a decimal string.
 * @param zeroOk Whether `0` is allowed.
 * @returns The duration in milliseconds (not rounded).
 * @throws {ConfigError} When the value is not a number of seconds in range.
 */
export function seconds(f: Field, zeroOk: boolean): number {
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

/**
 * A duration already in milliseconds, as the camelCase top-level keys take it.
 *
 * @param f The field to check: a finite number.
 * @param zeroOk Whether `0` is allowed.
 * @returns The duration in milliseconds.
 * @throws {ConfigError} When the value is not a finite number in range.
 */
export function duration(f: Field, zeroOk: boolean): number {
  const n = f.value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) {
    fail(f, zeroOk ? "a finite number of milliseconds ≥ 0" : "a finite number of milliseconds > 0");
  }
  return n;
}

/**
 * A non-empty string.
 *
 * @param f The field to check.
 * @param what What the string names, for the message, e.g. `"a user name"`.
 * @returns The string.
 * @throws {ConfigError} When the value is not a string or is empty.
 */
export function nonEmptyString(f: Field, what: string): string {
  if (typeof f.value !== "string" || f.value === "") fail(f, `${what} (a non-empty string)`);
  refuseNul(f, f.value);
  return f.value;
}

/**
 * Refuses a NUL character: the startup packet ends each name at one, so the
 * rest would be read as another key (`"app\0options"`).
 *
 * @param f The field, for its path (its value is not quoted: it may be a password).
 * @param text The value.
 * @throws {ConfigError} When `text` holds a NUL.
 */
export function refuseNul(f: Field, text: string): void {
  if (text.includes("\0")) {
    throw new ConfigError(
      f.path,
      `expected text without a NUL character (\\0, %00): PostgreSQL cannot take one here${f.where}`,
    );
  }
}

/**
 * One host: a name, an IP address (IPv6 without brackets) or a socket
 * directory. Outside a URL, a comma or a bracket is refused, as a sign of a
 * host list or a URL-style IPv6 address written where one host belongs.
 *
 * @param f The field to check.
 * @returns The host.
 * @throws {ConfigError} When the value is not one host.
 */
export function hostField(f: Field): string {
  const host = nonEmptyString(f, "a host name, IP address or socket directory");
  if (host.trim() !== host || controlCharAt(host) >= 0) {
    fail(f, "a host without spaces or control characters (a line break?) around or in it");
  }
  if (!f.text && host.includes(",")) {
    fail(f, "one host (list several endpoints, or use a multi-host URL)");
  }
  if (!f.text && host.startsWith("[")) fail(f, "an IPv6 address without brackets");
  if (!f.text && (/^[a-z][a-z0-9+.-]*:\/\//i.test(host) || host.includes("@"))) {
    fail(f, "a host name, not a connection URL (give the URL as db itself)");
  }
  if (host.includes(":") && !host.startsWith("/") && !isIPv6(host)) {
    fail(f, 'a host without a port (give the port as "port") or an IPv6 address');
  }
  return host;
}

/**
 * One of libpq's `sslmode` values; a boolean gets a hint.
 *
 * @param f The field to check.
 * @returns The TLS mode.
 * @throws {ConfigError} When the value is not an `sslmode`.
 */
export function sslMode(f: Field): SslMode {
  const hint = typeof f.value === "boolean" ? ` (write "disable" or "require", not a boolean)` : "";
  if (!SSL_MODES.includes(f.value as SslMode)) {
    fail({ ...f, where: hint + f.where }, `one of ${SSL_MODES.map((m) => `"${m}"`).join(", ")}`);
  }
  return f.value as SslMode;
}

/**
 * One of a list of strings.
 *
 * @param f The field to check.
 * @param values The strings allowed.
 * @returns The value, typed as one of `values`.
 * @throws {ConfigError} When the value is not in `values`.
 */
export function oneOf<T extends string>(f: Field, values: readonly T[]): T {
  if (!values.includes(f.value as T)) fail(f, `one of ${values.map((v) => `"${v}"`).join(", ")}`);
  return f.value as T;
}

/**
 * An `application_name` that PostgreSQL keeps whole: at most 63 bytes of UTF-8.
 *
 * @param f The field to check.
 * @returns The name.
 * @throws {ConfigError} When the value is not a string or is too long.
 */
export function applicationName(f: Field): string {
  if (typeof f.value !== "string" || UTF8.encode(f.value).length > MAX_APPLICATION_NAME_BYTES) {
    fail(f, `a string of at most ${MAX_APPLICATION_NAME_BYTES} bytes`);
  }
  refuseNul(f, f.value);
  return f.value;
}

/**
 * A password: any string, the empty string meaning none. The field's `got`
 * must not quote it (see `renderSecret` in `redact.ts`).
 *
 * @param f The field to check.
 * @returns The password, or `undefined` for `""`.
 * @throws {ConfigError} When the value is not a string.
 */
export function passwordField(f: Field): string | undefined {
  if (typeof f.value !== "string") {
    fail(f, "a string, or a function returning one (see PassFunction)");
  }
  refuseNul(f, f.value);
  return f.value === "" ? undefined : f.value;
}

/**
 * Where the first control character (U+0000–U+001F, U+007F) of `text` is.
 *
 * @param text Any text.
 * @returns Its index, or -1 when there is none.
 */
export function controlCharAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}

/**
 * CA certificates as PEM text. What looks like a file path is refused with its reason: the
 * library reads no files, and a path taken for PEM would fail only at the
 * TLS handshake.
 *
 * @param f The field to check.
 * @returns The PEM text.
 * @throws {ConfigError} When the value is not PEM text.
 */
export function pemText(f: Field): string {
  const text = nonEmptyString(f, "PEM text");
  const path = !text.includes("\n") && /^[~.]?\/|\\|\.(?:pem|crt|cer)$/i.test(text);
  if (!text.includes("-----BEGIN ") && path) {
    fail(
      f,
      'PEM text ("-----BEGIN CERTIFICATE-----…"), not a file path: the library reads no files; read the file and pass its text',
    );
  }
  return text;
}

/** A bare IPv6 address (`::1`, `fe80::1%eth0`, `::ffff:10.0.0.1`), not `host:port`. */
function isIPv6(host: string): boolean {
  const halves = host.replace(/%[^%]+$/, "").split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => h === "" ? [] : h.split(":"));
  let count = groups.length;
  if (groups.at(-1)?.includes(".")) {
    if (!/^\d{1,3}(?:\.\d{1,3}){3}$/.test(groups.pop()!)) return false;
    count++;
  }
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}
