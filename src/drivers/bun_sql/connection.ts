/**
 * One pool connection on Bun.SQL: a `max: 1` `Bun.SQL` instance seen as a
 * {@linkcode DriverConnection}. Picks the protocol per query (a prepared
 * parameterless statement goes through a cached template-strings array, the
 * only way Bun prepares text without parameters), maps results to
 * {@linkcode DriverResult} and errors to {@linkcode QueryError} (or to a lost
 * session), and closes the instance as soon as the session is gone, before
 * Bun can reconnect it.
 *
 * Internal to the Bun.SQL adapter; not part of the public surface.
 *
 * @module
 */
import type { DriverConnection, DriverResult } from "../../driver.ts";
import { QueryError } from "../../errors.ts";
import {
  endsSession,
  isSingleStatement,
  sessionEnded,
  taggedResult,
  toQueryError,
} from "../shared/normalize.ts";
import { NO_PARAMETERS } from "../shared/notice.ts";
import type { BunSqlClient, BunSqlResult } from "./types.ts";

const TEMPLATE_CACHE_MAX = 1024;

function templateOf(text: string, cache: Map<string, TemplateStringsArray>): TemplateStringsArray {
  let strings = cache.get(text);
  if (strings === undefined) {
    const array = [text];
    // Bun rejects a template-strings array whose `raw` is enumerable.
    Object.defineProperty(array, "raw", { value: Object.freeze([text]) });
    strings = Object.freeze(array) as unknown as TemplateStringsArray;
    if (cache.size < TEMPLATE_CACHE_MAX) cache.set(text, strings);
  }
  return strings;
}

function noop(): undefined {
  return undefined;
}

interface BunSqlError extends Error {
  code?: string;
  errno?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
}

/** A server ErrorResponse: Bun puts the SQLSTATE in `errno` (its own code is in `code`). */
function isServerError(err: unknown): err is BunSqlError & { errno: string } {
  const errno = (err as BunSqlError | null)?.errno;
  return err instanceof Error && typeof errno === "string" && errno.length === 5;
}

/** Input Bun refuses before sending anything; the session is untouched. */
function isRefusal(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = (err as BunSqlError | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_INVALID_ARG");
}

const EMPTY: unknown[] = [];

/**
 * A {@linkcode DriverConnection} over one `Bun.SQL` instance (one session).
 * Parameterised text runs through `unsafe` (prepared or not, as the instance
 * was built); parameterless text as a prepared tagged template when it is one
 * statement and `prepare` is on, else with the simple protocol.
 */
export class BunSqlConnection implements DriverConnection {
  #sql!: BunSqlClient;
  readonly #prepare: boolean;
  readonly #label: string;
  readonly #templates: Map<string, TemplateStringsArray>;
  #closed = false;
  #cause: unknown;
  #ending: Promise<void> | undefined;

  /**
   * @param prepare Named prepared statements on or off.
   * @param label `host:port`, for messages.
   * @param templates Template-strings arrays by text, shared by a driver's connections.
   */
  constructor(prepare: boolean, label: string, templates: Map<string, TemplateStringsArray>) {
    this.#prepare = prepare;
    this.#label = label;
    this.#templates = templates;
  }

  /** Sets the instance; called once, before it can connect. */
  attach(sql: BunSqlClient): void {
    this.#sql = sql;
  }

  /** Whether the session has ended (closed, or lost). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Always empty: Bun.SQL does not expose the server's ParameterStatus values. */
  get parameters(): Readonly<Record<string, string>> {
    return NO_PARAMETERS;
  }

  /**
   * Runs one query (several statements only without parameters).
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns The rows, the row count and the command verb.
   * @throws {QueryError} For a server error or input Bun refuses; the session survives.
   */
  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    if (this.#closed) {
      return Promise.reject(
        sessionEnded("Bun.SQL", this.#label, this.#cause, "ERR_POSTGRES_CONNECTION_CLOSED"),
      );
    }
    let pending: Promise<BunSqlResult>;
    try {
      pending = params !== undefined && params.length > 0
        ? this.#sql.unsafe(text, params as unknown[])
        : this.#prepare && isSingleStatement(text)
        ? this.#sql(templateOf(text, this.#templates))
        : this.#sql.unsafe(text, EMPTY);
    } catch (err) {
      return Promise.reject(this.#translate(err));
    }
    return pending.then(taggedResult, (err) => {
      throw this.#translate(err);
    });
  }

  /**
   * Closes the instance without waiting for running queries.
   *
   * @returns When closed; never rejects.
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.#ending ??= this.#sql.close({ timeout: 0 }).catch(noop);
  }

  /** The session is gone: refuse everything from now on, and close before Bun reconnects. */
  lost(cause: unknown): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#cause = cause;
    }
    // Called from Bun's onclose too: closing the instance there, synchronously,
    // is what keeps Bun from opening a new session for the next query.
    this.#ending ??= this.#sql.close({ timeout: 0 }).catch(noop);
  }

  #translate(err: unknown): unknown {
    if (isServerError(err)) {
      if (endsSession(err.severity)) {
        this.lost(err);
        return err;
      }
      return toQueryError(err, {
        code: err.errno,
        detail: err.detail,
        hint: err.hint,
        position: err.position,
      });
    }
    if (this.#closed) return err;
    if (isRefusal(err)) return new QueryError((err as Error).message, { cause: err });
    this.lost(err);
    return err;
  }
}
