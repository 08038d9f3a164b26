/**
 * Errors of what a pool cannot offer: sharing with another isolate, LISTEN
 * on a driver that does not deliver notifications.
 *
 * @module
 */
import { PoolError } from "./pool_error.ts";

/**
 * A pool cannot be shared with another isolate: it is not `type: "threaded"`,
 * it has been ended, or every isolate slot of its shared memory is taken.
 *
 * @example share() on a non-threaded pool
 * ```ts
 * import { createPool, PoolShareError } from "@x/pgdbpool";
 * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
 * try {
 *   pool.share();
 * } catch (err) {
 *   if (err instanceof PoolShareError) console.log(err.message); // asks for type "threaded"
 * }
 * ```
 */
export class PoolShareError extends PoolError {
  /**
   * Builds the error.
   *
   * @param message What cannot be shared, and why.
   */
  constructor(message: string) {
    super(message);
    this.name = "PoolShareError";
  }
}

/**
 * `pool.listen` on a pool whose driver cannot deliver the notifications of a
 * session it opened (Bun.SQL: its own `sql.listen` opens a connection of its
 * own, outside the pool, and passes the payload only; deno-postgres exposes
 * none). The message names the driver and what to use instead.
 *
 * @example A second pool, on postgres.js, only for LISTEN
 * ```ts
 * import { createPool, ListenUnsupportedError } from "@x/pgdbpool";
 * import { postgresjs } from "@x/pgdbpool/postgresjs";
 * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
 * try {
 *   await pool.listen("jobs", (payload) => console.log(payload));
 * } catch (err) {
 *   if (!(err instanceof ListenUnsupportedError)) throw err;
 *   const listening = createPool({
 *     db: "postgres://localhost/app",
 *     groups: { default: { connection_count: 1 } },
 *     driver: postgresjs(),
 *   });
 *   await listening.listen("jobs", (payload) => console.log(payload));
 * }
 * ```
 */
export class ListenUnsupportedError extends PoolError {
  /** The pool's driver (`Driver.name`). */
  readonly driver: string;
  /**
   * Builds the error.
   *
   * @param driver The driver's name.
   */
  constructor(driver: string) {
    super(
      `Cannot listen with the "${driver}" driver: it does not deliver notifications (LISTEN/NOTIFY); build the pool, or a second pool just for listen, with the postgresjs() or nodePostgres() driver`,
    );
    this.name = "ListenUnsupportedError";
    this.driver = driver;
  }
}
