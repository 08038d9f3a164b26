/**
 * `groups.<g>.retry`: running `fn` again, only when that cannot repeat
 * committed work — its transaction failed with a serialization failure
 * (40001) or a deadlock (40P01), so the server rolled it back; or the session
 * was lost before any of `fn`'s queries got an answer. Never once `fn`
 * committed work, or may have (`db.commit()`, a `COMMIT` or `PREPARE
 * TRANSACTION` it ran), never after a COMMIT whose outcome is unknown, a
 * refused login or a caller's abort.
 *
 * @module
 */
import { CommitUnknownError, ConnectionError, isLoginRefused, QueryError } from "../errors.ts";
import type { Handler, QueryParams, QueryResult } from "./handler.ts";
import type { EndpointInfo } from "../endpoints/endpoint_set.ts";
import { sqlQuery } from "./sql_tag.ts";

const ROLLED_BACK = new Set(["40001", "40P01"]);

/**
 * Whether `fn` may run again after `err`.
 *
 * @param err What the attempt rejected with.
 * @param answered How many of `fn`'s queries got an answer (a result or a server error).
 * @param committed Whether `fn` sent a commit that may have gone through.
 * @returns `true` for 40001/40P01, or a lost session before any answer; never once `fn` committed.
 */
export function mayRetry(err: unknown, answered: number, committed = false): boolean {
  if (committed) return false;
  if (err instanceof QueryError) return err.code !== undefined && ROLLED_BACK.has(err.code);
  if (err instanceof CommitUnknownError || isLoginRefused(err)) return false;
  return err instanceof ConnectionError && answered === 0;
}

/**
 * Runs one attempt after the other, at most `retries` times more, while
 * {@linkcode mayRetry} allows it and the caller's signal has not aborted.
 *
 * @param retries How many times `fn` may run again.
 * @param signal The caller's signal.
 * @param attempt Runs one attempt; `wrap` counts the answers `fn`'s handler gets.
 * @returns What the first successful attempt returned.
 * @throws What the last attempt threw.
 */
export async function withRetry<T>(
  retries: number,
  signal: AbortSignal | undefined,
  attempt: (wrap: (db: Handler) => Handler) => Promise<T>,
): Promise<T> {
  for (let n = 0;; n++) {
    let counting: AnswerCounter | undefined;
    try {
      return await attempt((db) => (counting = new AnswerCounter(db)));
    } catch (err) {
      if (n >= retries || signal?.aborted) throw err;
      if (!mayRetry(err, counting?.answered ?? 0, counting?.committed)) throw err;
    }
  }
}

/** A handler that counts the answers its queries got (only in groups with `retry`). */
class AnswerCounter implements Handler {
  readonly #db: Handler;
  answered = 0;

  constructor(db: Handler) {
    this.#db = db;
  }

  /** Whether `fn` sent a commit that may have gone through (see `PoolHandler.commitsSent`). */
  get committed(): boolean {
    return ((this.#db as { commitsSent?: number }).commitsSent ?? 0) > 0;
  }

  get endpoint(): EndpointInfo {
    return this.#db.endpoint;
  }

  get group(): string {
    return this.#db.group;
  }

  query<R = Record<string, unknown>>(
    text: string,
    params?: QueryParams,
  ): Promise<QueryResult<R>> {
    return this.#count(this.#db.query<R>(text, params));
  }

  sql<R = Record<string, unknown>>(
    strings: TemplateStringsArray,
    ...values: unknown[]
  ): Promise<QueryResult<R>> {
    // A destructured `const { sql } = db` must reject, not throw (sqlQuery says why).
    if (this === undefined) return sqlQuery<R>(undefined, strings, values);
    return this.#count(this.#db.sql<R>(strings, ...values));
  }

  queryPrepared<T = unknown>(params: readonly unknown[]): Promise<T> {
    return this.#count(this.#db.queryPrepared<T>(params));
  }

  async #count<T>(reply: Promise<T>): Promise<T> {
    try {
      const result = await reply;
      this.answered++;
      return result;
    } catch (err) {
      // A server error is an answer too: fn learned something from it.
      if (!(err instanceof ConnectionError)) this.answered++;
      throw err;
    }
  }

  commit(): Promise<void> {
    return this.#db.commit();
  }

  rollback(): Promise<void> {
    return this.#db.rollback();
  }

  markDirty(): void {
    this.#db.markDirty();
  }

  release(): Promise<void> {
    return this.#db.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#db[Symbol.asyncDispose]();
  }
}
