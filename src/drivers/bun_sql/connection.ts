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
import type { DriverConnection, DriverResult, ReplySettler } from "../../driver.ts";
import { NO_PARAMETERS } from "../shared/notice.ts";
import { isSingleStatement, taggedResult } from "../shared/results.ts";
import { SessionConnection } from "../shared/session.ts";
import { attemptWithin } from "../shared/cancel_request.ts";
import { refusedUpFront, refusedVia, settledFailure } from "../shared/settle.ts";
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

/** Input Bun refuses before sending anything; the session is untouched. */
function isRefusal(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_INVALID_ARG");
}

const EMPTY: unknown[] = [];

/** The shared result shape, with Bun's typed arrays (a prepared `int4[]`, `float4[]`…) as plain arrays. */
function bunResult(result: BunSqlResult): DriverResult {
  const out = taggedResult(result);
  const rows = out.rows;
  if (rows.length === 0) return out;
  // Which columns may hold typed arrays: those that do, or are NULL, in the
  // first row (a column's type is the same in every row).
  let columns: string[] | undefined;
  for (const key in rows[0]) {
    const v = rows[0][key];
    if (v === null || isTypedArray(v)) (columns ??= []).push(key);
  }
  if (columns === undefined) return out;
  for (const row of rows) {
    for (const key of columns) {
      const v = row[key];
      if (isTypedArray(v)) row[key] = Array.from(v as ArrayLike<number>);
    }
  }
  return out;
}

// bytea comes back as a Buffer (a Uint8Array): bytes stay bytes.
function isTypedArray(v: unknown): boolean {
  return ArrayBuffer.isView(v) && !(v instanceof Uint8Array) && !(v instanceof DataView);
}

/** A reply's two reactions, through the pool's settler. */
interface Reactions {
  ok(result: BunSqlResult): DriverResult;
  failed(err: unknown): never;
}

/**
 * A {@linkcode DriverConnection} over one `Bun.SQL` instance (one session).
 * Parameterised text runs through `unsafe` (prepared or not, as the instance
 * was built); parameterless text as a prepared tagged template when it is one
 * statement and `prepare` is on, else with the simple protocol.
 */
export class BunSqlConnection extends SessionConnection implements DriverConnection {
  /** Replies pass through the pool's settler in this adapter's own reaction. */
  readonly settlesReplies = true;
  #sql!: BunSqlClient;
  readonly #prepare: boolean;
  readonly #templates: Map<string, TemplateStringsArray>;
  // The last query sent and how many are in flight: what cancel() asks Bun to stop.
  #running: Promise<BunSqlResult> | undefined;
  #inFlight = 0;
  readonly #cancelWaitMs: number;

  /**
   * @param prepare Named prepared statements on or off.
   * @param label `host:port`, for messages.
   * @param templates Template-strings arrays by text, shared by a driver's connections.
   * @param cancelWaitMs How long a cancel waits for the query to answer (the connect timeout).
   */
  constructor(
    prepare: boolean,
    label: string,
    templates: Map<string, TemplateStringsArray>,
    cancelWaitMs: number,
  ) {
    super("Bun.SQL", label, {
      end: () => this.#sql.close({ timeout: 0 }),
      // Bun has no socket to drop; a close without waiting is the hardest end it offers.
      destroy: () => void this.#sql.close({ timeout: 0 }).catch(() => {}),
    });
    this.#cancelWaitMs = cancelWaitMs;
    this.#prepare = prepare;
    this.#templates = templates;
  }

  /** Sets the instance; called once, before it can connect. */
  attach(sql: BunSqlClient): void {
    this.#sql = sql;
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
    let pending: Promise<BunSqlResult>;
    try {
      if (params !== undefined && params.length > 0) {
        pending = this.#sql.unsafe(text, params as unknown[]);
      } else {
        pending = this.#prepare && isSingleStatement(text)
          ? this.#sql(templateOf(text, this.#templates))
          : this.#sql.unsafe(text, EMPTY);
      }
    } catch (err) {
      return refusedVia(settler, this.#translate(err));
    }
    // Every query counts for cancel(), an on_connect statement (no settler) too.
    this.#running = pending;
    this.#inFlight++;
    if (settler === undefined) return pending.then(this.#plain, this.#failed);
    const through = this.#through(settler);
    return pending.then(through.ok, through.failed);
  }

  // Without a settler: callbacks made once per connection, not a closure per query.
  readonly #plain = (result: BunSqlResult): DriverResult => {
    this.#answered();
    return bunResult(result);
  };
  readonly #failed = (err: unknown): never => {
    this.#answered();
    throw this.#translate(err);
  };

  // The pool gives a connection one settler for its life: the reactions are made once.
  #settler: ReplySettler | undefined;
  #reactions: Reactions | undefined;
  #through(settler: ReplySettler): Reactions {
    if (settler === this.#settler) return this.#reactions!;
    this.#settler = settler;
    return this.#reactions = {
      ok: (result) => {
        this.#answered();
        let out: DriverResult;
        try {
          out = bunResult(result);
        } catch (err) {
          return settledFailure(settler, err);
        }
        return settler.ok(out);
      },
      failed: (err) => {
        this.#answered();
        return settledFailure(settler, this.#translate(err));
      },
    };
  }

  #answered(): void {
    if (--this.#inFlight === 0) this.#running = undefined;
  }

  /**
   * Asks Bun to cancel the query in flight (its `Query.cancel()`: a CancelRequest on a second
   * connection, with the session's own settings). Bun does not say when it is sent, so the
   * session closes only once that query answered (cancelled or not), or at the connect timeout.
   *
   * @returns Then; never rejects.
   */
  cancel(): Promise<void> {
    const running = this.#running;
    if (running === undefined) return Promise.resolve();
    try {
      (running as { cancel?: () => unknown }).cancel?.();
    } catch { /* a query Bun already settled */ }
    return this.cancelling(attemptWithin(this.#cancelWaitMs, (done) => {
      running.then(done, done);
      return () => {};
    }));
  }

  #translate(err: unknown): unknown {
    return this.session.translate(err, isRefusal(err));
  }
}
