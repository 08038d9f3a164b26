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
import type { DriverConnection, DriverResult, ReplySettler } from "../../driver.ts";
import { isSingleStatement, taggedResult } from "../shared/results.ts";
import { SessionConnection } from "../shared/session.ts";
import { refusedUpFront, settledFailure, settledResult } from "../shared/settle.ts";
import { discardCopyStream, isRows } from "./copy_stream.ts";
import type { PostgresjsSql } from "./types.ts";
import type { SessionCanceller } from "../shared/backend_key.ts";

type NetSocket = import("node:net").Socket;

// Per-query options, shared (postgres.js copies them into each query).
const NAMED = { prepare: true, simple: false };
const UNNAMED = { prepare: false };
const SIMPLE = { simple: true };
const EMPTY: unknown[] = [];

// postgres.js's own errors for input it refuses before anything is sent.
const REFUSAL_CODES = new Set(["UNDEFINED_VALUE", "MAX_PARAMETERS_EXCEEDED"]);

/**
 * A {@linkcode DriverConnection} over one postgres.js instance (one session).
 * Parameterised text runs as a named prepared statement (`prepare`) or an
 * unnamed one; parameterless text as a named statement when it is one
 * statement and `prepare` is on, else with the simple protocol.
 */
export class PostgresjsConnection extends SessionConnection implements DriverConnection {
  /** Replies pass through the pool's settler in this adapter's own reaction. */
  readonly settlesReplies = true;
  #sql!: PostgresjsSql;
  readonly #prepare: boolean;
  #pending = 0;
  readonly #socket: () => NetSocket | undefined;
  // allowExitOnIdle: the socket is unref'd while no query is in flight.
  #unrefIdle = false;
  readonly #canceller: SessionCanceller;

  /**
   * @param prepare Named prepared statements on or off.
   * @param label `host:port`, for messages.
   * @param socket The instance's socket so far, destroyed when the session is lost.
   * @param canceller Sends a CancelRequest for this session.
   */
  constructor(
    prepare: boolean,
    label: string,
    socket: () => NetSocket | undefined,
    canceller: SessionCanceller,
  ) {
    super("postgres.js", label, {
      end: () => this.#end(socket()),
      destroy: () => socket()?.destroy(),
    });
    this.#prepare = prepare;
    this.#socket = socket;
    this.#canceller = canceller;
  }

  /**
   * Asks the server to cancel the query this session runs (a CancelRequest on a new connection).
   *
   * @returns Once the server closed it (it read it), failed or timed out (the connect timeout);
   *   never rejects. The session closes only after.
   */
  cancel(): Promise<void> {
    return this.cancelling(this.#canceller.send());
  }

  /** Lets the process exit while no query is in flight (pool option `allowExitOnIdle`). */
  unrefWhenIdle(): void {
    this.#unrefIdle = true;
    if (this.#pending === 0) this.#socket()?.unref();
  }

  /** Sets the instance; called once, before any callback of that instance can fire. */
  attach(sql: PostgresjsSql): void {
    this.#sql = sql;
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
   * @throws {QueryError} For a server error or input that cannot be sent; the session survives.
   * @throws {ConnectionError} When the session is gone.
   */
  query(
    text: string,
    params?: readonly unknown[],
    settler?: ReplySettler,
  ): Promise<DriverResult> {
    const refused = refusedUpFront(this.session, text, params, settler);
    if (refused !== undefined) return refused;
    const withParams = params !== undefined && params.length > 0;
    // Whether nothing else was in flight when this query was handed over: see #translate.
    const alone = this.#pending++ === 0;
    if (alone && this.#unrefIdle) this.#socket()?.ref();
    const pending = withParams
      ? this.#sql.unsafe(text, params as unknown[], this.#prepare ? NAMED : UNNAMED)
      : this.#sql.unsafe(text, EMPTY, this.#prepare && isSingleStatement(text) ? NAMED : SIMPLE);
    return pending.then(
      (result) => {
        this.#settled();
        // A copy stream instead of rows: silenced, and the session, left mid-copy, is lost.
        if (!isRows(result)) settledFailure(settler, this.session.lost(discardCopyStream(result)));
        let out: DriverResult;
        try {
          out = taggedResult(result);
        } catch (err) {
          return settledFailure(settler, err);
        }
        return settledResult(settler, out);
      },
      (err) => {
        this.#settled();
        return settledFailure(settler, this.#translate(err, alone));
      },
    );
  }

  #settled(): void {
    if (--this.#pending === 0 && this.#unrefIdle) this.#socket()?.unref();
  }

  async #end(socket: NetSocket | undefined): Promise<void> {
    // Taken first: ending rejects the queries in flight.
    const busy = this.#pending > 0;
    await this.#sql.end({ timeout: 0 });
    if (socket === undefined || socket.destroyed) return;
    // The server reads Terminate only after the query in flight, whose answer
    // nobody waits for any more: waiting for its FIN would wait for that query.
    if (busy) return void socket.destroy();
    // postgres.js has sent Terminate and ended its side; the session bounds the wait.
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  }

  #translate(err: unknown, alone: boolean): unknown {
    // postgres.js refuses some input while building the query. When another
    // query is in flight, it rejects that one instead and leaves the refused
    // one queued but never sent, so replies would be matched to the wrong
    // queries from then on: a refusal is survivable only when this query was
    // alone both when handed over and now.
    return this.session.translate(err, alone && this.#pending === 0 && isRefusal(err));
  }
}

function isRefusal(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && REFUSAL_CODES.has(code);
}
