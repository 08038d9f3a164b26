/**
 * The life of one driver session, the same on every adapter: open, then
 * closed by the pool or lost (once, for the first reason); from then on every
 * query is refused with the same {@linkcode ConnectionError}, and the client
 * is torn down within a bounded time, whatever the peer does.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import { ConnectionError } from "../../errors.ts";
import { endsSession, refusedQuery, serverError, toQueryError } from "./server_error.ts";
import { cancelGrace } from "./cancel_request.ts";

/**
 * How long a polite end waits for the server to close its side: a live server does within a
 * round trip (~10 ms locally), a silent one never; dropping the socket after Terminate costs nothing.
 */
export const CLOSE_GRACE_MS = 250;

/** How an adapter ends its client. */
export interface SessionTeardown {
  /** Ends the client politely (Terminate, then wait for the socket to close). May reject. */
  end(): Promise<void>;
  /** Drops the socket at once; never throws. */
  destroy(): void;
}

/**
 * The closed/lost state of one session.
 */
export class Session {
  readonly #driver: string;
  readonly #label: string;
  readonly #teardown: SessionTeardown;
  #closed = false;
  #error: ConnectionError | undefined;
  #ending: Promise<void> | undefined;

  /**
   * @param driver The driver's name, for messages.
   * @param label `host:port`.
   * @param teardown How to end the client.
   */
  constructor(driver: string, label: string, teardown: SessionTeardown) {
    this.#driver = driver;
    this.#label = label;
    this.#teardown = teardown;
  }

  /** `true` once closed or lost; never `false` again. */
  get closed(): boolean {
    return this.#closed;
  }

  /** `host:port`. */
  get label(): string {
    return this.#label;
  }

  /**
   * The session is gone (socket closed, fatal error, timeout): records the
   * first cause, drops the socket, and ends the client in the background.
   *
   * @param cause Why.
   * @returns The error every later query is refused with.
   */
  lost(cause: unknown): ConnectionError {
    if (!this.#closed) {
      this.#closed = true;
      this.#error = this.#endedError(cause, true);
    }
    if (this.#ending === undefined) {
      safely(() => this.#teardown.destroy());
      this.#ending = this.#end();
    }
    return this.ended();
  }

  /**
   * Ends the session: politely, but never waiting longer than
   * {@linkcode CLOSE_GRACE_MS} for the peer. Queries are refused at once.
   *
   * @param cancel A CancelRequest in flight (never rejects): the client ends once it settled.
   * @returns When ended; never rejects.
   */
  close(cancel?: Promise<void>): Promise<void> {
    this.#closed = true;
    return this.#ending ??= cancel ? cancelGrace(cancel).then(() => this.#end()) : this.#end();
  }

  /**
   * The one error queries are refused with once the session is gone.
   *
   * @returns The same {@linkcode ConnectionError} on every call.
   */
  ended(): ConnectionError {
    return this.#error ??= this.#endedError(undefined, false);
  }

  /**
   * What a failed query rejects with, the same way on every adapter: a
   * server error as a {@linkcode QueryError} (a `FATAL` one ends the
   * session); input the client refused before sending anything as a
   * `QueryError` without SQLSTATE when `refused` says the session is
   * intact; anything else means the session is lost.
   *
   * @param err The client's error.
   * @param refused Whether the adapter knows the client refused the input and the session is intact.
   * @returns The error to reject the query with.
   */
  translate(err: unknown, refused: boolean): unknown {
    const fields = serverError(err);
    if (fields !== undefined) {
      if (endsSession(fields.severity)) return this.lost(err);
      // Closed by the pool with the query in flight: its answer (57014 once cancelled) comes late.
      return this.#closed ? this.ended() : toQueryError(err as Error, fields);
    }
    return this.#closed || !refused ? this.lost(err) : refusedQuery(err);
  }

  /**
   * A rejected promise of {@linkcode Session.ended}, for a query refused up front.
   *
   * @returns The rejection.
   */
  refuse(): Promise<never> {
    return rejected(this.ended());
  }

  #endedError(cause: unknown, lost: boolean): ConnectionError {
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    const code = serverError(cause)?.code ?? (cause as { code?: unknown } | null)?.code;
    return new ConnectionError(
      `Cannot query: the ${this.#driver} session to ${this.#label} has ${
        lost ? "been lost" : "been closed"
      }${why}`,
      this.#label,
      { cause, code: typeof code === "string" ? code : "CONNECTION_CLOSED", reached: true },
    );
  }

  #end(): Promise<void> {
    const teardown = this.#teardown;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        safely(() => teardown.destroy());
        resolve();
      }, CLOSE_GRACE_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      let ending: Promise<void>;
      try {
        ending = teardown.end();
      } catch {
        ending = Promise.resolve();
      }
      ending.then(done, () => {
        safely(() => teardown.destroy());
        done();
      });
    });
  }
}

/**
 * A promise rejected with `err` that never counts as unhandled: a query
 * refused up front rejects before anything is sent, and a caller that awaits
 * something else first (the pool sends BEGIN and the first statement
 * together, then awaits BEGIN) would otherwise leave it unhandled for a round
 * trip, which ends a Deno or Node process. Awaiting it still throws `err`.
 *
 * @param err The error.
 * @returns The rejected promise.
 */
export function rejected(err: unknown): Promise<never> {
  const promise = Promise.reject(err);
  promise.catch(ignore);
  return promise;
}

function ignore(): undefined {
  return undefined;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // Tearing down never fails the caller.
  }
}

/**
 * The part of a {@linkcode DriverConnection} every adapter shares: `closed`,
 * `close()` and `lost()` over one {@linkcode Session}.
 */
export class SessionConnection {
  /** The session's state; the adapter refuses and translates through it. */
  protected readonly session: Session;
  // The CancelRequest in flight, if any: close() waits for it.
  #cancelling: Promise<void> | undefined;

  /**
   * @param driver The driver's name, for messages.
   * @param label `host:port`.
   * @param teardown How to end the client.
   */
  constructor(driver: string, label: string, teardown: SessionTeardown) {
    this.session = new Session(driver, label, teardown);
  }

  /** Whether the session has ended (closed, or lost). */
  get closed(): boolean {
    return this.session.closed;
  }

  /**
   * Ends the session, waiting at most {@linkcode CLOSE_GRACE_MS} for the server;
   * after a cancel asked for, once that cancel settled (at most `CANCEL_GRACE_MS`).
   *
   * @returns When ended; never rejects.
   */
  close(): Promise<void> {
    return this.session.close(this.#cancelling);
  }

  /**
   * Records a CancelRequest in flight: the session stays connected until it settled (a pooler
   * drops the request of a client gone, and may hand its server session to another client).
   *
   * @param sent The cancel; settles once it went through, failed or timed out, never rejects.
   * @returns `sent`.
   */
  protected cancelling(sent: Promise<void>): Promise<void> {
    this.#cancelling = sent;
    return sent;
  }

  /**
   * The session is gone (socket closed, fatal error, timeout): refuse everything from now on.
   *
   * @param cause Why, reported as the cause of later refusals.
   */
  lost(cause: unknown): void {
    this.session.lost(cause);
  }
}
