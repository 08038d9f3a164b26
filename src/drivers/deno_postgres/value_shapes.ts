/**
 * The value shapes every adapter returns (README, "One shape of values,
 * whatever the driver"), on deno-postgres: its `controls.decoders` for the
 * types it decodes its own way (`int8` as `bigint`, `float8` and `oid` as
 * strings, geometric types and `tid` as objects, `bytea` as a bare
 * `Uint8Array`) and for the built-in array types it leaves unparsed
 * (`interval[]`, `money[]`, ranges…). The caller's own `controls` come first.
 *
 * Internal to the deno-postgres adapter; not part of the public surface.
 *
 * @module
 */
import { Buffer } from "node:buffer";

type Parse = (text: string) => unknown;

/** deno-postgres's array parser, handed to every decoder as its third argument. */
type ParseArray = (text: string, parse: Parse, separator?: "," | ";") => unknown;

type Decoder = (text: string, oid: number, parseArray: ParseArray) => unknown;

function asText(text: string): string {
  return text;
}

// Number() reads NaN, Infinity and -Infinity as the server writes them.
function asNumber(text: string): number {
  return Number(text);
}

/** bytea as a Buffer, as the other adapters give it, in either `bytea_output` format. */
function asBytes(text: string): Buffer {
  if (text.startsWith("\\x")) return Buffer.from(text.slice(2), "hex");
  // escape: printable ASCII as is, `\\` for a backslash, `\ooo` for any other byte.
  const bytes: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 92) {
      bytes.push(c);
      i += 1;
    } else if (text.charCodeAt(i + 1) === 92) {
      bytes.push(92);
      i += 2;
    } else {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 4;
    }
  }
  return Buffer.from(bytes);
}

// [element oid, array oid, element parser]: the element parser is absent
// where deno-postgres already gives the element as the server's text and only
// its array is left unparsed.
const SHAPES: readonly (readonly [number, number, Parse?])[] = [
  [20, 1016, asText], // int8: exact, as a string (deno-postgres: bigint)
  [701, 1022, asNumber], // float8 (deno-postgres: string)
  [26, 1028, asNumber], // oid (deno-postgres: string)
  [17, 1001, asBytes], // bytea (deno-postgres: a Uint8Array, not a Buffer)
  // The server's text (deno-postgres: objects, or numbers and bigints).
  [28, 1011, asText], // xid
  [27, 1010, asText], // tid
  [600, 1017, asText], // point
  [601, 1018, asText], // lseg
  [602, 1019, asText], // path
  [603, 1020, asText], // box
  [604, 1027, asText], // polygon
  [628, 629, asText], // line
  [718, 719, asText], // circle
  // Built-in arrays deno-postgres returns unparsed.
  [142, 143], // xml
  [5069, 271], // xid8
  [774, 775], // macaddr8
  [790, 791], // money
  [22, 1006], // int2vector
  [29, 1012], // cid
  [30, 1013], // oidvector
  [1033, 1034], // aclitem
  [1186, 1187], // interval
  [1560, 1561], // bit
  [1562, 1563], // varbit
  [1790, 2201], // refcursor
  [2970, 2949], // txid_snapshot
  [3220, 3221], // pg_lsn
  [3614, 3643], // tsvector
  [3642, 3644], // gtsvector
  [3615, 3645], // tsquery
  [3904, 3905], // int4range
  [3906, 3907], // numrange
  [3908, 3909], // tsrange
  [3910, 3911], // tstzrange
  [3912, 3913], // daterange
  [3926, 3927], // int8range
  [4072, 4073], // jsonpath
  [4191, 4192], // regcollation
  [5038, 5039], // pg_snapshot
  [4451, 6150], // int4multirange
  [4532, 6151], // nummultirange
  [4533, 6152], // tsmultirange
  [4534, 6153], // tstzmultirange
  [4535, 6155], // datemultirange
  [4536, 6157], // int8multirange
];

// box[] is the one built-in array whose elements are separated by ";".
const BOX_ARRAY = 1020;

interface Controls {
  decodeStrategy?: unknown;
  decoders?: Record<string, unknown>;
}

/**
 * The `controls` to hand every deno-postgres client: the caller's, with the
 * adapter's decoders under the caller's own. A caller's decoder keyed by an
 * element type's oid replaces the adapter's for that type and for its arrays
 * (deno-postgres then applies it to each element). With `decodeStrategy:
 * "string"` the caller asked for the server's text: the controls go as given.
 *
 * @param controls The `controls` option of the driver, if any.
 * @returns The controls for the client.
 */
export function withValueShapes(controls: object | undefined): object {
  const given = (controls ?? {}) as Controls;
  if (given.decodeStrategy === "string") return given;
  const own = given.decoders ?? {};
  const decoders: Record<number, Decoder> = {};
  for (const [element, array, parse] of SHAPES) {
    if (Object.hasOwn(own, element)) continue;
    if (parse !== undefined) decoders[element] = (text) => parse(text);
    const separator = array === BOX_ARRAY ? ";" : ",";
    decoders[array] = (text, _oid, parseArray) => parseArray(text, parse ?? asText, separator);
  }
  return { ...given, decoders: { ...decoders, ...own } };
}
