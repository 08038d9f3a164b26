/**
 * One pool connection on postgres.js: a `max: 1` postgres.js instance seen as
 * a {@linkcode DriverConnection}. Picks the protocol per query, maps results
 * to {@linkcode DriverResult} and errors to {@linkcode QueryError} (or to a
 * lost session), and refuses every query once the session is gone, so a
 * postgres.js reconnect can never pass as the same session.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
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
import type { PostgresjsSql } from "./types.ts";

type NetSocket = import("node:net").Socket;

// Per-query options, shared (postgres.js copies them into each query).
const NAMED = { prepare: true, simple: false };
const UNNAMED = { prepare: false };
const SIMPLE = { simple: true };
const EMPTY: unknown[] = [];

// postgres.js's own errors for input it refuses before anything is sent.
const REFUSAL_CODES = new Set(["UNDEFINED_VALUE", "MAX_PARAMETERS_EXCEEDED"]);

interface PostgresjsServerError extends Error {
  code: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
}

function isServerError(err: unknown): err is PostgresjsServerError {
  return err instanceof Error && err.name === "PostgresError" &&
    typeof (err as { code?: unknown }).code === "string";
}

/**
 * A {@linkcode DriverConnection} over one postgres.js instance (one session).
 * Parameterised text runs as a named prepared statement (`prepare`) or an
 * unnamed one; parameterless text as a named statement when it is one
 * statement and `prepare` is on, else with the simple protocol.
 */
export class PostgresjsConnection implements DriverConnection {
  #sql!: PostgresjsSql;
  readonly #prepare: boolean;
  readonly #label: string;
  readonly #socket: () => NetSocket | undefined;
  #closed = false;
  #cause: unknown;
  #pending = 0;
  #ending: Promise<void> | undefined;

  /**
   * @param prepare Named prepared statements on or off.
   * @param label `host:port`, for messages.
   * @param socket The instance's socket so far, destroyed when the session is lost.
   */
  constructor(prepare: boolean, label: string, socket: () => NetSocket | undefined) {
    this.#prepare = prepare;
    this.#label = label;
    this.#socket = socket;
  }

  /** Sets the instance; called once, before any callback of that instance can fire. */
  attach(sql: PostgresjsSql): void {
    this.#sql = sql;
  }

  /** Whether the session has ended (closed, or lost). */
  get closed(): boolean {
    return this.#closed;
  }

  /** ParameterStatus values, kept current by postgres.js. */
  get parameters(): Readonly<Record<string, string>> {
    return this.#sql.parameters;
  }

  /**
   * Runs one query (several statements only without parameters).
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns The rows, the row count and the command verb.
   * @throws {QueryError} For a server error or input postgres.js refuses; the session survives.
   */
  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    if (this.#closed) {
      return Promise.reject(
        sessionEnded("postgres.js", this.#label, this.#cause, "CONNECTION_CLOSED"),
      );
    }
    // Whether nothing else was in flight when this query was handed over: see #translate.
    const alone = this.#pending++ === 0;
    const pending = params !== undefined && params.length > 0
      ? this.#sql.unsafe(text, params as unknown[], this.#prepare ? NAMED : UNNAMED)
      : this.#sql.unsafe(
        text,
        EMPTY,
        this.#prepare && isSingleStatement(text) ? NAMED : SIMPLE,
      );
    return pending.then(
      (result) => {
        this.#pending--;
        return taggedResult(result);
      },
      (err) => {
        this.#pending--;
        throw this.#translate(err, alone);
      },
    );
  }

  /**
   * Ends the session (Terminate, then waits up to 1 s for the socket to close).
   *
   * @returns When ended; never rejects.
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.#ending ??= this.#shutdown();
  }

  /** The session is gone (socket closed, fatal error, timeout): refuse everything from now on. */
  lost(cause: unknown): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#cause = cause;
    }
    // Nothing useful can cross this socket any more (it may still be
    // connecting, or stalled): drop it now rather than end it politely.
    const socket = this.#socket();
    if (socket !== undefined && !socket.destroyed) socket.destroy();
    // Rejects whatever postgres.js still holds (queued queries would
    // otherwise wait for a reconnect that the socket factory refuses).
    this.#ending ??= this.#shutdown();
  }

  async #shutdown(): Promise<void> {
    try {
      await this.#sql.end({ timeout: 0 });
    } catch {
      // Ending never fails the caller.
    }
    const socket = this.#socket();
    if (socket === undefined || socket.destroyed) return;
    // postgres.js has sent Terminate and ended its side; wait for the socket
    // to close, but not for a server that never answers.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #translate(err: unknown, alone: boolean): unknown {
    if (isServerError(err)) {
      if (endsSession(err.severity)) {
        this.lost(err);
        return err;
      }
      return toQueryError(err, err);
    }
    if (this.#closed) return err;
    // postgres.js refuses some input while building the query. When another
    // query is in flight, it rejects that one instead and leaves the refused
    // one queued but never sent, so replies would be matched to the wrong
    // queries from then on: a refusal is survivable only when this query was
    // alone both when handed over and now.
    if (alone && this.#pending === 0 && isRefusal(err)) {
      return new QueryError((err as Error).message, { cause: err });
    }
    this.lost(err);
    return err;
  }
}

function isRefusal(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && REFUSAL_CODES.has(code);
}
