/**
 * libpq connection URLs, parsed by hand: multi-host authorities
 * (`h1:5432,[::1]:5433`), `?host=` socket directories and the query
 * parameters pgdbpool accepts. Every message quotes the URL redacted.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { EndpointField, EndpointFields, Field } from "./fields.ts";
import { redactUrl, secretRange } from "../redact.ts";
import { controlCharAt } from "./validators.ts";
import { hostSpecs } from "./url_hosts.ts";

/** URL query parameters and the endpoint field each sets (`host` is handled apart). */
const URL_PARAMS: Readonly<Record<string, EndpointField>> = {
  host: "host",
  sslmode: "ssl",
  sslrootcert: "sslRootCert",
  connect_timeout: "connectTimeout",
  application_name: "applicationName",
  query_timeout: "queryTimeout",
  session_tmp_buffer: "sessionTmpBuffer",
  pool_mode: "poolMode",
};

/** A URL parameter that sets the groups' default, not an endpoint field. */
const TARGET_PARAM = "target_session_attrs";

/**
 * Parses a libpq connection URL by hand: the URL class cannot read a
 * multi-host authority (`h1:5432,h2:5433`). Every message quotes the URL
 * through {@linkcode redactUrl}, and quotes a part of it only when that part
 * lies outside the masked range, so a mistyped password never leaks.
 *
 * @param url The URL as the user wrote it.
 * @param at The dotted path of the URL in the config, e.g. `db[1]`.
 * @returns One set of fields per host, sharing user, database and parameters
 *   (to be validated and defaulted); the password, kept apart; and
 *   `?target_session_attrs=` (a pool-wide setting, not an endpoint's), unvalidated.
 * @throws {ConfigError} When the URL is malformed or has an unknown parameter;
 *   the message quotes the URL redacted.
 */
export function parseUrl(
  url: string,
  at: string,
): { hosts: EndpointFields[]; password?: string; targetSessionAttrs?: Field } {
  refuseInvisible(url, at);
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
    let text: string;
    try {
      text = decodeURIComponent(url.slice(start, end));
    } catch {
      return fail(key, `expected valid percent-encoding, got ${shown(start, end)}`);
    }
    // The startup packet ends a name at a NUL; the rest would be read as another key.
    if (text.includes("\0")) {
      fail(key, "expected no NUL character (%00): PostgreSQL cannot take one");
    }
    return text;
  };
  const field = (key: string, value: string, start: number, end: number): Field => {
    // A fragment means nothing in a connection URL: a raw "#" would end up in the value.
    if (url.slice(start, end).includes("#")) {
      fail(key, `expected "#" percent-encoded (%23), got ${shown(start, end)}`);
    }
    return { path: `${at}.${key}`, value, got: shown(start, end), text: true, where };
  };

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
  let targetSessionAttrs: Field | undefined;
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
        if (name === TARGET_PARAM) {
          if (targetSessionAttrs) fail(name, "is given twice");
          targetSessionAttrs = field(name, decode(eq + 1, end, name), eq + 1, end);
          start = end + 1;
          continue;
        }
        const target = URL_PARAMS[name];
        if (!Object.hasOwn(URL_PARAMS, name) || !target) {
          // The name may be a piece of a mistyped password: then it stays out of the path too.
          fail(
            hidden(start, eq) ? "" : name,
            `unknown URL parameter ${shown(start, eq)}: expected one of ${
              [...Object.keys(URL_PARAMS), TARGET_PARAM].join(", ")
            }`,
          );
        }
        const value = field(name, decode(eq + 1, end, name), eq + 1, end);
        if (target === "host") {
          if (hostParam) fail(name, "is given twice");
          hostParam = value;
        } else if (shared[target]) fail(name, "is given twice");
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
      targetSessionAttrs,
    };
  }
  if (hosts.length === 0) fail("host", "is required: expected a host after the //");
  return { hosts: hosts.map((h) => ({ ...shared, ...h })), password, targetSessionAttrs };
}

/**
 * Refuses what a copied URL brings along unseen: a space or line break at
 * either end (a `.env` file, `$(cat secret)`), a control character anywhere.
 * Nothing of the URL is quoted: it may be a password.
 */
function refuseInvisible(url: string, at: string): void {
  const i = controlCharAt(url);
  const edge = url.trim() !== url;
  if (i < 0 && !edge) return;
  const what = i >= 0
    ? `a control character (a line break?) at offset ${i}`
    : "a space at its start or end";
  throw new ConfigError(
    at,
    `expected a URL without spaces or control characters around it, nor control characters in it (percent-encode them: %20, %0A), got one with ${what}`,
  );
}
