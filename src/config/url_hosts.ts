/**
 * The host list of a libpq URL's authority: `h1:5432,[::1]:5433,h3`, each
 * part a host (IPv6 in brackets) and an optional port.
 *
 * @module
 */
import type { Field } from "./fields.ts";

/** What the host list reader needs of the URL parser: quoting, failing, decoding, fields. */
export interface UrlTools {
  shown(start: number, end: number): string;
  fail(key: string, message: string): never;
  decode(start: number, end: number, key: string): string;
  field(key: string, value: string, start: number, end: number): Field;
}

/**
 * Splits `h1:5432,[::1]:5433,h3` into host and port fields.
 *
 * @param url The URL.
 * @param start Where the host list starts.
 * @param end Where it ends.
 * @param t The parser's tools.
 * @returns One host and port per comma-separated part; `[]` for an empty authority.
 */
export function hostSpecs(
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
