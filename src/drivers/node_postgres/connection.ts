/**
 * One pool connection on node-postgres: a `pg.Client` seen as a
 * {@linkcode DriverConnection}. Names prepared statements per text, maps
 * results to {@linkcode DriverResult} and errors to {@linkcode QueryError}
 * (or to a lost session), and refuses every query once the session is gone
 * (a `pg.Client` never reconnects).
 *
 * Internal to the node-postgres adapter; not part of the public surface.
 *
 * @module
 */
import type { DriverConnection, DriverNotice, DriverResult } from "../../driver.ts";
import { QueryError } from "../../errors.ts";
import {
  commandVerb,
  endsSession,
  isSingleStatement,
  sessionEnded,
  toQueryError,
} from "../shared/normalize.ts";
import { noticeForwarder } from "../shared/notice.ts";
import type {
  NodePostgresClient,
  NodePostgresResult,
  PgClientState,
  PgServerError,
} from "./types.ts";

// Statements that may drop the server side of prepared statements.
const DROPS_STATEMENTS = /\bdeallocate\b|\bdiscard\s+all\b/i;

// pg's DatabaseError carries the SQLSTATE in `code` and the severity; socket
// errors carry Node codes such as ECONNRESET (no severity).
function isServerError(err: unknown): err is PgServerError {
  const e = err as { code?: unknown; severity?: unknown } | null;
  return err instanceof Error && typeof e?.code === "string" && typeof e.severity === "string";
}

/**
 * Stable statement names per text (`pgdbpool_1`, `pgdbpool_2`…), shared by a
 * driver's connections. Past `max` distinct texts, new texts get no name.
 */
export class StatementNames {
  readonly #names = new Map<string, string>();
  readonly #max: number;

  /** @param max Most distinct texts that get a name. */
  constructor(max: number) {
    this.#max = max;
  }

  /**
   * The name of `text`, or `undefined` when the limit is reached and it has none.
   *
   * @param text SQL text.
   * @returns Its statement name, given on first use.
   */
  of(text: string): string | undefined {
    let name = this.#names.get(text);
    if (name === undefined && this.#names.size < this.#max) {
      name = `pgdbpool_${this.#names.size + 1}`;
      this.#names.set(text, name);
    }
    return name;
  }
}

/**
 * A {@linkcode DriverConnection} over one `pg.Client` (one session). With
 * `names`, single statements and parameterised text run as named prepared
 * statements; without, `pg` chooses (simple protocol without parameters, an
 * unnamed statement with). Several parameterless statements always use the
 * simple protocol; the result is the last statement's.
 */
export class NodePostgresConnection implements DriverConnection {
  readonly #client: NodePostgresClient;
  readonly #label: string;
  readonly #names: StatementNames | undefined;
  readonly #parameters: Record<string, string> = {};
  #closed = false;
  #cause: unknown;
  #ending: Promise<void> | undefined;
  // Bumped when the server may have dropped our statements: names get a new suffix.
  #generation = 0;

  /**
   * @param client The client, not yet connected; its `end`, `error` and `notice` events are watched from now on.
   * @param label `host:port`, for messages.
   * @param names Statement names, or `undefined` to leave the protocol to `pg`.
   */
  constructor(
    client: NodePostgresClient,
    label: string,
    names: StatementNames | undefined,
    onNotice?: (notice: DriverNotice) => void,
  ) {
    this.#client = client;
    this.#label = label;
    this.#names = names;
    client.on("end", () => this.lost(undefined));
    // Without a listener, pg's `error` event would crash the process.
    client.on("error", (err) => this.lost(err));
    client.on("notice", noticeForwarder(onNotice));
    const parameters = this.#parameters;
    client.connection?.on("parameterStatus", (msg) => {
      const m = msg as { parameterName?: unknown; parameterValue?: unknown };
      if (typeof m.parameterName === "string" && typeof m.parameterValue === "string") {
        parameters[m.parameterName] = m.parameterValue;
      }
    });
  }

  /** Whether the session has ended (closed, or lost). */
  get closed(): boolean {
    return this.#closed;
  }

  /** ParameterStatus values as the server reported them, kept current. */
  get parameters(): Readonly<Record<string, string>> {
    return this.#parameters;
  }

  /**
   * Runs one query (several statements only without parameters).
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns The rows, the row count and the command verb.
   * @throws {QueryError} For a server error or input `pg` refuses; the session survives.
   */
  query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    if (this.#closed) {
      return Promise.reject(
        sessionEnded("node-postgres", this.#label, this.#cause, "CONNECTION_CLOSED"),
      );
    }
    const values = params !== undefined && params.length > 0 ? params as unknown[] : undefined;
    const base = this.#names !== undefined && (values !== undefined || isSingleStatement(text))
      ? this.#names.of(text)
      : undefined;
    const name = base === undefined || this.#generation === 0
      ? base
      : `${base}_${this.#generation}`;
    return this.#client.query({ text, values, name }).then(
      (result) => {
        this.#watchDrops(text, base !== undefined, result);
        return this.#result(result);
      },
      (err) => {
        this.#watchDrops(text, base !== undefined, undefined);
        throw this.#translate(err);
      },
    );
  }

  /**
   * Ends the session.
   *
   * @returns When ended; never rejects.
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.#ending ??= this.#client.end().catch(() => {});
  }

  /**
   * The session is gone (socket closed, fatal error, timeout): refuse everything from now on.
   *
   * @param cause Why, reported as the cause of later refusals.
   */
  lost(cause: unknown): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#cause = cause;
    }
    this.#ending ??= this.#client.end().catch(() => {});
  }

  #result(result: NodePostgresResult | NodePostgresResult[]): DriverResult {
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    const command = commandVerb(last?.command);
    const rows = last?.rows ?? [];
    return {
      rows,
      rowCount: typeof last?.rowCount === "number" ? last.rowCount : rows.length,
      command,
    };
  }

  // A text that may have dropped server-side prepared statements (even one that
  // failed part-way: DEALLOCATE is not undone by a rollback) moves the session
  // to new statement names. Erring towards a switch costs a re-parse; erring
  // the other way would bind statements that no longer exist.
  #watchDrops(
    text: string,
    named: boolean,
    result: NodePostgresResult | NodePostgresResult[] | undefined,
  ): void {
    if (named && result !== undefined && !Array.isArray(result)) {
      const verb = result.command;
      if (verb !== "DEALLOCATE" && verb !== "DISCARD") return;
    }
    if (this.#names !== undefined && DROPS_STATEMENTS.test(text)) this.#generation++;
  }

  #translate(err: unknown): unknown {
    if (isServerError(err)) {
      if (endsSession(err.severity)) {
        this.lost(err);
        return err;
      }
      return toQueryError(err, err);
    }
    if (this.#closed || this.#dead()) {
      this.lost(err);
      return err;
    }
    // Refused before anything was sent (a value pg cannot serialise): the session is fine.
    return new QueryError((err as Error)?.message ?? String(err), { cause: err });
  }

  // pg marks the client before it rejects the queries of a dead socket.
  #dead(): boolean {
    const s = this.#client as unknown as PgClientState;
    return s._ending === true || s._ended === true || s._queryable === false ||
      s.connection?.stream?.destroyed === true;
  }
}
