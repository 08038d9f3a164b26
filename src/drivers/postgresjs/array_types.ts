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
import { lazyLoader } from "../shared/lazy.ts";
import { parseArray, serializeArray } from "./array_text.ts";
import { discardCopyStream, isRows } from "./copy_stream.ts";
import type { PostgresjsSql } from "./types.ts";

/** A type's oid and its array type's oid. */
type ArrayType = readonly [element: number, array: number];

const ARRAY_TYPES_QUERY = "select b.oid, b.typarray from pg_catalog.pg_type a " +
  "left join pg_catalog.pg_type b on b.oid = a.typelem " +
  "where a.typcategory = 'A' group by b.oid, b.typarray order by b.oid";

// date, timestamp, timestamptz
const DATE_TYPES = [1082, 1114, 1184];
const BOX_ARRAY = 1020;

type Parser = (text: string) => unknown;
type Serializer = (value: unknown) => unknown;

/**
 * Fetches the array types once per driver (a failed fetch is tried again by
 * the next session) and installs them, with the adapter's parsers, on each
 * session's instance.
 */
export class ArrayTypes {
  readonly #load: (sql: PostgresjsSql) => Promise<readonly ArrayType[]>;

  constructor() {
    let from: PostgresjsSql | undefined;
    const fetch = lazyLoader(() => fetchArrayTypes(from!));
    this.#load = (sql) => {
      from = sql;
      return fetch();
    };
  }

  /**
   * Fetches (first time) and installs the array types on `sql`.
   *
   * @param sql A session whose startup is done.
   * @returns When installed.
   * @throws {Error} When the catalog query fails (the session may be gone).
   */
  async install(sql: PostgresjsSql): Promise<void> {
    const types = await this.#load(sql);
    const options = sql.options;
    const map = (options as { shared?: { typeArrayMap?: Record<number, number> } }).shared
      ?.typeArrayMap;
    for (const [element, array] of types) installArray(options, element, array, map);
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
  const types: ArrayType[] = [];
  for (const row of rows) {
    const element = Number(row.oid);
    const array = Number(row.typarray);
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
