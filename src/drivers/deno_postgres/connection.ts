/**
 * One pool connection on deno-postgres: a `Client` seen as a
 * {@linkcode DriverConnection}. Runs queries one at a time through its own
 * queue (never deno-postgres's), maps array results to
 * {@linkcode DriverResult} rows and errors to {@linkcode QueryError} (or to a
 * lost session), and never touches the client again once its session is
 * gone, which is where deno-postgres would reconnect.
 *
 * Internal to the deno-postgres adapter; not part of the public surface.
 *
 * @module
 */
import type { DriverConnection, DriverNotice, DriverResult } from "../../driver.ts";
import { NO_PARAMETERS, noticeForwarder } from "../shared/notice.ts";
import { refusal } from "../shared/params.ts";
import { rejected, Session } from "../shared/session.ts";
import type { DenoPostgresArrayResult, DenoPostgresClient } from "./types.ts";

// Errors after which the session is still usable: the server's (non-fatal)
// errors and the driver's own encode/decode errors. Anything else (socket
// errors such as BrokenPipe, deno-postgres's ConnectionError) means the
// session is gone or its protocol state is unknown.
const RECOVERABLE_ERROR_NAMES = new Set(["Error", "TypeError", "RangeError", "SyntaxError"]);

/** One query handed to {@linkcode DenoPostgresConnection.query} and not yet settled. */
interface Pending {
  reject(err: unknown): void;
}

/**
 * A {@linkcode DriverConnection} over one connected deno-postgres `Client`
 * (one session). Rows come back as objects keyed by column name.
 */
export class DenoPostgresConnection implements DriverConnection {
  #client: DenoPostgresClient;
  // deno-postgres hands a query's notices over with its result.
  readonly #notice: (notice: unknown) => void;
  readonly #session: Session;
  // Queries run one at a time through this chain, never queued inside
  // deno-postgres: when a session drops, deno-postgres swaps its internal
  // query lock for a new one and the queries waiting on the old lock never
  // settle. Queued here, they are rejected as soon as the session is gone.
  #tail: Promise<void> = Promise.resolve();
  #pending = new Set<Pending>();

  /**
   * @param client A client whose `connect()` has resolved.
   * @param label `host:port`, for messages.
   * @param onNotice Receives the session's notices.
   */
  constructor(
    client: DenoPostgresClient,
    label: string,
    onNotice?: (notice: DriverNotice) => void,
  ) {
    this.#client = client;
    this.#notice = noticeForwarder(onNotice);
    this.#session = new Session("deno-postgres", label, {
      // deno-postgres's end() rejects when its socket is already broken;
      // nothing more can be done then (and it offers no socket to drop).
      end: () => client.end(),
      destroy: () => {},
    });
  }

  /** Always empty: deno-postgres does not expose the server's ParameterStatus values. */
  get parameters(): Readonly<Record<string, string>> {
    return NO_PARAMETERS;
  }

  /** Whether the session has ended (closed, or lost: the client no longer connected). */
  get closed(): boolean {
    if (!this.#session.closed && !this.#client.connected) this.#lost(undefined);
    return this.#session.closed;
  }

  /**
   * Runs one query after those already handed over.
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns The rows, the row count and the command verb.
   * @throws {QueryError} For a non-fatal server error or a value deno-postgres cannot encode or decode.
   * @throws {ConnectionError} When the session is gone.
   */
  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    // Never hand a dead client a query: that is where deno-postgres would reconnect.
    if (this.closed) return this.#session.refuse();
    const refused = refusal(text, params);
    if (refused !== undefined) return rejected(refused);
    const args = params ? [...params] : [];
    return new Promise<DriverResult>((resolve, reject) => {
      const entry: Pending = { reject };
      this.#pending.add(entry);
      this.#tail = this.#tail.then(async () => {
        // Rejected already by close() or by a lost session.
        if (!this.#pending.has(entry)) return;
        try {
          const raw = await this.#client.queryArray(text, args);
          if (raw.warnings !== undefined) {
            for (const notice of raw.warnings) this.#notice(notice);
          }
          const result = toDriverResult(raw);
          if (this.#pending.delete(entry)) resolve(result);
        } catch (err) {
          if (this.#pending.delete(entry)) reject(this.#translate(err));
        }
      });
    });
  }

  /**
   * Ends the session; queries not yet settled are rejected.
   *
   * @returns When the client has ended (at most about a second); never rejects.
   */
  close(): Promise<void> {
    const closing = this.#session.close();
    this.#rejectPending();
    return closing;
  }

  #translate(err: unknown): unknown {
    if (this.#session.closed) return this.#session.ended();
    const connected = this.#client.connected;
    const name = err instanceof Error ? err.name : "";
    const message = err instanceof Error ? err.message : "";
    // "Unexpected …" errors come from deno-postgres's protocol loops: the
    // rest of the server's reply is unread, so the session cannot be trusted.
    // Other errors of those names are the driver's own encode/decode refusals.
    const refused = connected && RECOVERABLE_ERROR_NAMES.has(name) &&
      !message.startsWith("Unexpected ");
    const out = !connected ? this.#lost(err) : this.#session.translate(err, refused);
    if (this.#session.closed) this.#rejectPending();
    return out;
  }

  #lost(cause: unknown): unknown {
    const err = this.#session.lost(cause);
    this.#rejectPending();
    return err;
  }

  #rejectPending(): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const entry of pending) entry.reject(this.#session.ended());
  }
}

function toDriverResult(result: DenoPostgresArrayResult): DriverResult {
  const columns = result.rowDescription?.columns;
  const rows: Record<string, unknown>[] = [];
  if (columns) {
    for (const values of result.rows) {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) {
        const name = columns[i].name;
        // A column named __proto__ must become a property, not the prototype.
        if (name === "__proto__") {
          Object.defineProperty(row, name, {
            value: values[i],
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          row[name] = values[i];
        }
      }
      rows.push(row);
    }
  }
  const rowCount = result.rowCount;
  return {
    rows,
    // deno-postgres leaves rowCount NaN for tags without a count (BEGIN, CREATE TABLE).
    rowCount: typeof rowCount === "number" && Number.isFinite(rowCount) ? rowCount : rows.length,
    command: (result.command ?? "").toUpperCase(),
  };
}
