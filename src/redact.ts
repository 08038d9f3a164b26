/**
 * The one place that renders endpoints, URLs and passwords for messages:
 * {@linkcode describeEndpoint} never shows credentials, {@linkcode redactUrl}
 * masks a URL's password, {@linkcode secretRange} says which part of a URL to
 * keep out of messages, {@linkcode redactCredentials} masks the credentials a
 * driver's message may quote, and {@linkcode renderSecret} describes a password
 * without quoting it.
 *
 * Masking looks only where a credential can appear (a URL's user info, a
 * conninfo's `password=`), never for the password's text anywhere: a password
 * that is a common word (`postgres`) would garble every name holding it
 * (`database "****_app"`). Passwords are kept out of messages at the source.
 *
 * @module
 */

/**
 * Renders an endpoint as `host:port` (`[::1]:5432` for IPv6), never with
 * credentials. Every message that names an endpoint goes through it.
 *
 * @param endpoint Anything with a host and a port.
 * @returns `host:port`.
 */
export function describeEndpoint(endpoint: { host: string; port: number }): string {
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}`;
}

/**
 * Masks the password of a connection URL with `****`, in the user info and
 * in a `?password=` (or `?sslpassword=`) parameter. Errs on the side of
 * masking: a malformed URL (say, a password with a raw `/` or `@`) is masked
 * from the first `:` after the scheme up to the last `@`.
 *
 * @param url A connection URL, well-formed or not.
 * @returns The URL with any password replaced by `****`.
 */
export function redactUrl(url: string): string {
  const secret = secretRange(url);
  const masked = secret ? `${url.slice(0, secret[0])}****${url.slice(secret[1])}` : url;
  // libpq takes the password as a query parameter too (`?password=`, `?sslpassword=`).
  return masked.replace(/([?&](?:ssl)?password=)[^&#]*/gi, "$1****");
}

/**
 * The range {@linkcode redactUrl} masks: from the first ":" after the scheme to the last
 * "@", so that a password holding a raw "/", "?" or "@" is still covered.
 *
 * @param url A connection URL, well-formed or not.
 * @returns `[start, end]` of the masked text (end exclusive), or `undefined` if
 *   the URL holds no password.
 */
export function secretRange(url: string): [number, number] | undefined {
  // Only a real scheme counts: a mistyped one ("postgres:/u:pw://@h") must not
  // move the start past the password.
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  const start = scheme ? scheme[0].length : 0;
  const atSign = url.lastIndexOf("@");
  const colon = url.indexOf(":", start);
  return atSign > start && colon >= 0 && colon < atSign ? [colon + 1, atSign] : undefined;
}

/**
 * Describes a password without quoting it, for messages about a password
 * value that is wrong.
 *
 * @param value The password as received.
 * @returns `"a string (not shown)"`, or the type of a non-string value.
 */
export function renderSecret(value: unknown): string {
  return typeof value === "string" ? "a string (not shown)" : `a value of type ${typeof value}`;
}

/**
 * Masks the credentials a message may quote: the password of every URL in it
 * (`postgres://app:****@db1/app`) and the value of `password=` in libpq
 * key=value conninfo, quoted or not. Nothing else is touched.
 *
 * @param text A message, say a driver's error.
 * @returns The text with those credentials replaced by `****`.
 */
export function redactCredentials(text: string): string {
  return maskConninfoPasswords(maskUrlPasswords(text));
}

function maskUrlPasswords(text: string): string {
  let out = "";
  let from = 0;
  for (let at = text.indexOf("://"); at >= 0; at = text.indexOf("://", from)) {
    let start = at;
    while (start > 0 && isSchemeChar(text[start - 1])) start--;
    let end = at + 3;
    while (end < text.length && !isUrlEnd(text[end])) end++;
    out += text.slice(from, start) + redactUrl(text.slice(start, end));
    from = end;
  }
  return out + text.slice(from);
}

function maskConninfoPasswords(text: string): string {
  const lower = text.toLowerCase();
  let out = "";
  let from = 0;
  for (let at = lower.indexOf("password", from); at >= 0; at = lower.indexOf("password", from)) {
    let i = at + "password".length;
    while (text[i] === " ") i++;
    if (text[i] !== "=") {
      out += text.slice(from, at + 1);
      from = at + 1;
      continue;
    }
    i++;
    while (text[i] === " ") i++;
    let end = i;
    if (text[i] === "'") {
      // libpq quoting: a backslash escapes the next character.
      end = i + 1;
      while (end < text.length && text[end] !== "'") end += text[end] === "\\" ? 2 : 1;
      out += `${text.slice(from, i)}'****'`;
      from = Math.min(end + 1, text.length);
    } else {
      while (end < text.length && !isSpace(text[end])) end++;
      out += `${text.slice(from, i)}****`;
      from = end;
    }
  }
  return out + text.slice(from);
}

function isSchemeChar(ch: string): boolean {
  return /[A-Za-z0-9+.-]/.test(ch);
}

// Where a URL quoted in free text ends; a comma does not end it (multi-host URLs).
function isUrlEnd(ch: string): boolean {
  return isSpace(ch) || ch === '"' || ch === "'" || ch === "`" || ch === ">" || ch === ")";
}

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r";
}
