/**
 * Many callers started in one turn on a real pool, each recorded as it
 * settles: the row it got or its error, and whether it settled twice. The
 * attacks on a group's session pick read from it which sessions served and
 * how evenly.
 *
 * @module
 */
import type { Pool } from "../../mod.ts";

/** The query a burst sends unless told otherwise: the backend's pid. */
export const PID_SQL = "SELECT pg_backend_pid() AS pid";

/** A row with the backend's pid, as {@linkcode PID_SQL} returns it. */
export interface PidRow {
  /** The backend that ran the query. */
  pid: number;
}

/** What a burst's callers got, filled in as they settle. */
export interface Burst<R> {
  /** The first row of each fulfilled call, in the order they settled. */
  readonly rows: R[];
  /** The errors of the rejected calls, in the order they settled. */
  readonly errors: unknown[];
  /** Calls that settled more than once (always 0 for a sound pool). */
  readonly twice: number;
  /** Resolves (to this burst) once every call has settled. */
  readonly done: Promise<Burst<R>>;
}

/**
 * Starts `n` calls of `pool.query(sql)` in one turn, on `group`.
 *
 * @example Which sessions served 600 callers
 * ```ts ignore
 * const { rows, errors } = await burst(pool, 600).done;
 * const perSession = countBy(pidsOf(rows));
 * ```
 */
export function burst<R = PidRow>(
  pool: Pool,
  n: number,
  sql: string = PID_SQL,
  group = "default",
): Burst<R> {
  const rows: R[] = [];
  const errors: unknown[] = [];
  const seen = new Set<number>();
  let twice = 0;
  const settled = (i: number) => {
    if (seen.has(i)) twice++;
    seen.add(i);
  };
  const all = Array.from({ length: n }, (_, i) =>
    pool.query<R>(sql, [], { group }).then(
      (r) => (settled(i), void rows.push(r.rows[0])),
      (err: unknown) => (settled(i), void errors.push(err)),
    ));
  const b: Burst<R> = {
    rows,
    errors,
    get twice() {
      return twice;
    },
    done: Promise.all(all).then(() => b),
  };
  return b;
}

/**
 * The pids of `rows`, as numbers.
 *
 * @example No caller served by a killed backend
 * ```ts ignore
 * assert.ok(!pidsOf(rows).includes(victim));
 * ```
 */
export function pidsOf(rows: readonly { pid: unknown }[]): number[] {
  return rows.map((r) => Number(r.pid));
}

/**
 * How often each value occurs.
 *
 * @example Callers per session
 * ```ts ignore
 * const per = [...countBy(pidsOf(rows)).values()];
 * ```
 */
export function countBy(values: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}
