/**
 * The Python module's `sqlprepare` and `query_prepared`, for databases with
 * the `prep_queries` extension (schema `"SQLPrepare"`): a group with
 * `sqlprepare: true` calls `"SQLPrepare"."PrepareQueries"()` on each new
 * session (it `PREPARE`s every query stored in `"SQLPrepare"."Query"`), and
 * `db.queryPrepared(params)` calls `"SQLPrepare"."ExecuteQuery"(...params)`
 * and returns the first column of its first row, as psycopg2's
 * `callproc(...)` + `fetchone()[0]` did.
 *
 * @module
 */
import type { QueryResult } from "../handler/handler.ts";
import { QueryParamsError } from "../errors.ts";

/** What psycopg2's `callproc('"SQLPrepare"."PrepareQueries"')` sends. */
export const PREPARE_QUERIES_SQL = 'SELECT * FROM "SQLPrepare"."PrepareQueries"()';

// The extension's one signature: (character, character varying, json, character varying[]).
// Its json argument goes as text, cast on the server: drivers that serialise by the
// server's parameter type (postgres.js, Bun.SQL) would JSON-encode a JSON string again.
const EXECUTE_QUERY_SQL = 'SELECT * FROM "SQLPrepare"."ExecuteQuery"($1, $2, $3::text::json, $4)';

// Other arities, by n: `SELECT * FROM "SQLPrepare"."ExecuteQuery"($1, …, $n)`, built once each.
const executeTexts: string[] = [];

/**
 * The text psycopg2's `callproc('"SQLPrepare"."ExecuteQuery"', params)`
 * sends, with `$n` placeholders (the third of four is cast from text to json).
 *
 * @param n How many arguments.
 * @returns The SQL.
 */
export function executeQuerySql(n: number): string {
  if (n === 4) return EXECUTE_QUERY_SQL;
  let text = executeTexts[n];
  if (text === undefined) {
    const args = Array.from({ length: n }, (_, i) => `$${i + 1}`).join(", ");
    text = executeTexts[n] = `SELECT * FROM "SQLPrepare"."ExecuteQuery"(${args})`;
  }
  return text;
}

/**
 * Runs `"SQLPrepare"."ExecuteQuery"(...params)` through `run` and returns the
 * first column of the first row (`undefined` when there is no row). The
 * request data (the third of four arguments) may be JSON text, as the Python
 * code passed it, or an object or array, sent as its JSON text.
 *
 * @param run Runs a `$n` query on the handler's session.
 * @param params The arguments, e.g. `["S", "Test_Query_1", { val1: 20 }, ["val1"]]`.
 * @returns The first column of the first row: for `prep_queries`, the rows as parsed JSON.
 * @throws {TypeError} When `params` is not an array.
 * @throws {QueryParamsError} When the request data has no JSON text (a cycle, a bigint).
 */
export async function queryPrepared<T>(
  run: (text: string, params: readonly unknown[]) => Promise<QueryResult>,
  params: readonly unknown[],
): Promise<T> {
  if (!Array.isArray(params)) {
    throw new TypeError(
      `Invalid queryPrepared params: expected an array (the arguments of "SQLPrepare"."ExecuteQuery"), received ${typeof params}`,
    );
  }
  let values = params;
  const data = params[2];
  if (params.length === 4 && typeof data === "object" && data !== null && !isBinary(data)) {
    values = [params[0], params[1], jsonOf(data), params[3]];
  }
  const { rows } = await run(executeQuerySql(values.length), values);
  const row = rows[0];
  if (row === undefined) return undefined as T;
  for (const key in row) return row[key] as T;
  return undefined as T;
}

// A cyclic object or a bigint has no JSON text: say so before anything is sent.
function jsonOf(data: object): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    throw new QueryParamsError(
      `Cannot run queryPrepared(): its request data (params[2]) cannot be sent as JSON: ${
        (err as Error)?.message ?? err
      }`,
    );
  }
}

function isBinary(v: object): boolean {
  return v instanceof Uint8Array || v instanceof Date;
}
