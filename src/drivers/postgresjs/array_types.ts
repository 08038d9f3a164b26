/**
 * Array types and value shapes for the postgres.js adapter.
 *
 * postgres.js's own `fetch_types` runs its catalog query from inside the
 * socket handler, in an async function nobody awaits: when the session is
 * lost or times out during that query, or a `statement_timeout` cancels it,
 * the rejection escapes as an unhandled rejection and ends a Deno or Node
 * process. So the adapter turns it off and fetches the array types itself,
 * through an ordinary query whose failure fails the connect. It also parses
 * arrays itself: postgres.js turns a `NULL` element of a `text[]` or
 * `numeric[]` into the string `"NULL"`. And it gives infinite `date` and
 * `timestamp` values as `Infinity`/`-Infinity`, as node-postgres does,
 * where postgres.js gives an `Invalid Date`.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
 *
 * @module
 */
import { parseArray, serializeArray } from "./array_text.ts";
import { discardCopyStream, isRows } from "./copy_stream.ts";
import type { PostgresjsSql } from "./types.ts";

/** A type's oid and its array type's oid. */
type ArrayType = readonly [element: number, array: number];

// postgres.js's own catalog query, folded into one row on the server
// ("element array element array …", in element order): a cold process parses
// one row instead of ~300 through postgres.js's row code.
const ARRAY_TYPES_QUERY = "select string_agg(b.oid::text || ' ' || b.typarray::text, ' ' " +
  "order by b.oid) as types from (select b.oid, b.typarray from pg_catalog.pg_type a " +
  "join pg_catalog.pg_type b on b.oid = a.typelem " +
  "where a.typcategory = 'A' group by b.oid, b.typarray) b";

// date, timestamp, timestamptz
const DATE_TYPES = [1082, 1114, 1184];
const BOX_ARRAY = 1020;

type Parser = (text: string) => unknown;
type Serializer = (value: unknown) => unknown;

/**
 * Fetches the array types once per driver (a failed fetch is tried again by
 * the next session) and installs them, with the adapter's parsers, on each
 * session's instance. The session that fetches them needs no other query to
 * prove itself up: the catalog query is its first query, one round trip and
 * one query less on a cold start.
 */
export class ArrayTypes {
  #types: readonly ArrayType[] | undefined;
  #fetching: Promise<readonly ArrayType[]> | undefined;

  /**
   * Readies a new session: its first query (the catalog query when this
   * driver has no array types and is not fetching them, else `probe`), then
   * the array types installed on it.
   *
   * @param sql A new instance, whose first query this is.
   * @param probe The readiness query of a session that does not fetch.
   * @returns When the session answered and the types are installed.
   * @throws {Error} When a query fails (the session may be gone).
   */
  async ready(sql: PostgresjsSql, probe: () => Promise<void>): Promise<void> {
    let types = this.#types;
    if (types === undefined && this.#fetching === undefined) {
      types = await this.#fetch(sql);
    } else {
      await probe();
      types = this.#types ?? await (this.#fetching ?? this.#fetch(sql));
    }
    const options = sql.options;
    const map = (options as { shared?: { typeArrayMap?: Record<number, number> } }).shared
      ?.typeArrayMap;
    for (const [element, array] of types) installArray(options, element, array, map);
  }

  // One fetch shared by the sessions that open meanwhile; a failure is forgotten at once.
  #fetch(sql: PostgresjsSql): Promise<readonly ArrayType[]> {
    const fetching = fetchArrayTypes(sql);
    this.#fetching = fetching;
    const done = () => {
      if (this.#fetching === fetching) this.#fetching = undefined;
    };
    fetching.then((types) => {
      this.#types = types;
      done();
    }, done);
    return fetching;
  }
}

/**
 * Sets the value shapes that do not depend on the catalog: infinite dates
 * as `Infinity`/`-Infinity`. Call before the instance's first query.
 *
 * @param sql The instance.
 */
export function installValueShapes(sql: PostgresjsSql): void {
  const parsers = sql.options.parsers as Record<number, Parser>;
  for (const oid of DATE_TYPES) {
    const date = parsers[oid];
    if (typeof date !== "function") continue;
    parsers[oid] = (text) =>
      text === "infinity" ? Infinity : text === "-infinity" ? -Infinity : date(text);
  }
}

async function fetchArrayTypes(sql: PostgresjsSql): Promise<readonly ArrayType[]> {
  const rows = await sql.unsafe(ARRAY_TYPES_QUERY, [], { simple: true });
  if (!isRows(rows)) throw discardCopyStream(rows);
  const text = rows[0]?.types;
  const types: ArrayType[] = [];
  if (typeof text !== "string" || text === "") return types;
  const oids = text.split(" ");
  for (let i = 0; i + 1 < oids.length; i += 2) {
    const element = Number(oids[i]);
    const array = Number(oids[i + 1]);
    if (element > 0 && array > 0) types.push([element, array]);
  }
  return types;
}

function installArray(
  options: PostgresjsSql["options"],
  element: number,
  array: number,
  map: Record<number, number> | undefined,
): void {
  const parsers = options.parsers as Record<number, Parser>;
  const serializers = options.serializers as Record<number, Serializer>;
  if (map !== undefined) map[element] = array;
  const delimiter = array === BOX_ARRAY ? ";" : ",";
  const parse = parsers[element];
  // Without postgres.js's `array` flag, the parser gets the whole text.
  parsers[array] = (text) => parseArray(text, parse, delimiter);
  serializers[array] = (value) => serializeArray(value, serializers[element], delimiter);
}
