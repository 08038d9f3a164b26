/**
 * One pool connection on node-postgres: a `pg.Client` seen as a
 * {@linkcode DriverConnection}. Names prepared statements per text and heals
 * pg's statement cache when the server no longer matches it, maps results
 * and errors to the shared shapes, and refuses every query once the session
 * is gone (a `pg.Client` never reconnects).
 *
 * Internal to the node-postgres adapter; not part of the public surface.
 *
 * @module
 */
import type { DriverConnection, DriverNotice, DriverResult, ReplySettler } from "../../driver.ts";
import { commandVerb, isSingleStatement, plainRows } from "../shared/results.ts";
import { serverError } from "../shared/server_error.ts";
import { SessionConnection } from "../shared/session.ts";
import { refusedUpFront, settledFailure, settledResult } from "../shared/settle.ts";
import { noticeForwarder } from "../shared/notice.ts";
import type { CancelTarget } from "../shared/cancel_request.ts";
import { pgCancel } from "./cancel.ts";
import type { StatementNames } from "./statement_names.ts";
import type { NodePostgresClient, NodePostgresResult, PgClientState } from "./types.ts";
import type { NodePostgresModule as Pg } from "./types.ts";

// Statements that may drop the server side of prepared statements.
const DROPS_STATEMENTS = /\bdeallocate\b|\bdiscard\s+all\b/i;
// The server's statement no longer matches pg's cache: prepare it again once. 0A000: "cached plan
// must not change result type" (it stays on the server: a fresh name); 26000: it is gone.
const STALE_STATEMENT = new Set(["0A000", "26000"]);

type PgResult = NodePostgresResult | NodePostgresResult[];

/**
 * A {@linkcode DriverConnection} over one `pg.Client` (one session). With
 * `names`, single statements and parameterised text run as named prepared
 * statements; without, `pg` chooses (simple protocol without parameters, an
 * unnamed statement with). Several parameterless statements always use the
 * simple protocol; the result is the last statement's.
 */
export class NodePostgresConnection extends SessionConnection implements DriverConnection {
  /** Replies pass through the pool's settler in this adapter's own reaction. */
  readonly settlesReplies = true;
  readonly #client: NodePostgresClient;
  readonly #names: StatementNames | undefined;
  readonly #parameters: Record<string, string> = {};
  // Bumped when the server may have dropped our statements: names get a new suffix.
  #generation = 0;
  // Texts whose statement went stale on this session, with the name to use instead.
  #renamed: Map<string, string> | undefined;
  #renames = 0;
  // allowExitOnIdle: the socket is unref'd while no query is in flight.
  #unrefIdle = false;
  #cancel: (() => Promise<void>) | undefined;
  #pending = 0;

  /**
   * @param client The client, not yet connected; its events are watched from now on.
   * @param label `host:port`, for messages.
   * @param names Statement names, or `undefined` to leave the protocol to `pg`.
   * @param onNotice Receives the session's notices.
   */
  constructor(
    client: NodePostgresClient,
    label: string,
    names: StatementNames | undefined,
    onNotice?: (notice: DriverNotice) => void,
  ) {
    super("node-postgres", label, {
      end: () => client.end(),
      destroy: () => (client as unknown as PgClientState).connection?.stream?.destroy?.(),
    });
    this.#client = client;
    this.#names = names;
    client.on("end", () => this.session.lost(undefined));
    // Without a listener, pg's `error` event would crash the process.
    client.on("error", (err) => this.session.lost(err));
    client.on("notice", noticeForwarder(onNotice));
    const parameters = this.#parameters;
    client.connection?.on("parameterStatus", (msg) => {
      const m = msg as { parameterName?: unknown; parameterValue?: unknown };
      if (typeof m.parameterName === "string" && typeof m.parameterValue === "string") {
        parameters[m.parameterName] = m.parameterValue;
      }
    });
  }

  /**
   * Takes the backend key pg read at connect, for {@linkcode NodePostgresConnection.cancel}.
   * @param pg The `pg` module (its `Connection` sends the request).
   * @param target The session's server and TLS settings (no password).
   * @param usedTls Whether the session runs over TLS.
   */
  keyFrom(pg: Pg, target: CancelTarget, usedTls: boolean): void {
    const { processID, secretKey } = this.#client;
    const Connection = pg.Connection;
    if (typeof processID !== "number" || typeof secretKey !== "number" || !Connection) return;
    this.#cancel = () => pgCancel(Connection, target, usedTls, processID, secretKey);
  }

  /**
   * Asks the server to cancel the query this session runs; the session closes only after.
   * @returns Once the request's connection closed, failed or timed out; never rejects.
   */
  cancel(): Promise<void> {
    const send = this.#cancel;
    return send === undefined ? Promise.resolve() : this.cancelling(send());
  }

  /** Lets the process exit while no query is in flight (pool option `allowExitOnIdle`). */
  unrefWhenIdle(): void {
    this.#unrefIdle = true;
    if (this.#pending === 0) this.#client.unref?.();
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
   * @throws {QueryError} For a server error or a value that cannot be sent; the session survives.
   * @throws {ConnectionError} When the session is gone.
   */
  query(
    text: string,
    params?: readonly unknown[],
    settler?: ReplySettler,
  ): Promise<DriverResult> {
    const refused = refusedUpFront(this.session, text, params, settler);
    if (refused !== undefined) return refused;
    const values = params !== undefined && params.length > 0 ? params as unknown[] : undefined;
    const named = this.#names !== undefined && (values !== undefined || isSingleStatement(text));
    if (!this.#unrefIdle) return this.#run(text, values, named, true, settler);
    if (this.#pending++ === 0) this.#client.ref?.();
    return this.#run(text, values, named, true, settler).finally(() => {
      if (--this.#pending === 0 && !this.session.closed) this.#client.unref?.();
    });
  }

  // Every path ends in exactly one settle: the retry's own, or this reaction's.
  #run(
    text: string,
    values: unknown[] | undefined,
    named: boolean,
    retry: boolean,
    settler: ReplySettler | undefined,
  ): Promise<DriverResult> {
    const name = named ? this.#nameOf(text) : undefined;
    return this.#client.query({ text, values, name }).then(
      (result) => {
        let out: DriverResult;
        try {
          this.#watchDrops(text, name !== undefined, result);
          out = this.#result(result);
        } catch (err) {
          return settledFailure(settler, err);
        }
        return settledResult(settler, out);
      },
      (err) => {
        this.#watchDrops(text, name !== undefined, undefined);
        const fields = serverError(err);
        if (
          name !== undefined && fields !== undefined && STALE_STATEMENT.has(fields.code) &&
          (fields.code === "0A000" || mentions(err, name))
        ) {
          this.#forget(text, name, fields.code === "0A000");
          // Again once, only when no transaction was broken by the failure.
          const idle = this.#client.getTransactionStatus?.() === "I";
          if (retry && idle && !this.session.closed) {
            return this.#run(text, values, named, false, settler);
          }
        }
        return settledFailure(settler, this.#translate(err));
      },
    );
  }

  #nameOf(text: string): string | undefined {
    const renamed = this.#renamed?.get(text);
    if (renamed !== undefined) return renamed;
    const base = this.#names!.of(text);
    return base === undefined || this.#generation === 0 ? base : `${base}_${this.#generation}`;
  }

  // pg would bind the stale statement again. A statement gone from the server
  // leaves pg's cache; one still there (a stale plan) stays, so that queries
  // of its text already queued under that name fail and come back here rather
  // than parse it again (42P05). Either way the text moves to a fresh name per
  // failure: two retries never re-prepare under one name.
  #forget(text: string, name: string, stillOnServer: boolean): void {
    const con = (this.#client as unknown as PgClientState).connection;
    if (!stillOnServer) {
      if (con?.parsedStatements) delete con.parsedStatements[name];
      if (con?.submittedNamedStatements) delete con.submittedNamedStatements[name];
    }
    this.#renamed ??= new Map();
    this.#renamed.set(text, `${name.replace(/_r\d+$/, "")}_r${++this.#renames}`);
  }

  #result(result: PgResult): DriverResult {
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    const rows = last?.rows ?? [];
    return {
      rows: Object.getPrototypeOf(rows) === Array.prototype ? rows : plainRows(rows),
      rowCount: typeof last?.rowCount === "number" ? last.rowCount : rows.length,
      command: commandVerb(last?.command),
    };
  }

  // A text that may have dropped server-side prepared statements (even one that
  // failed part-way: DEALLOCATE is not undone by a rollback) moves the session
  // to new statement names. Erring towards a switch costs a re-parse; erring
  // the other way would bind statements that no longer exist.
  #watchDrops(text: string, named: boolean, result: PgResult | undefined): void {
    if (named && result !== undefined && !Array.isArray(result)) {
      const verb = result.command;
      if (verb !== "DEALLOCATE" && verb !== "DISCARD") return;
    }
    if (this.#names !== undefined && DROPS_STATEMENTS.test(text)) {
      this.#generation++;
      this.#renamed = undefined;
    }
  }

  #translate(err: unknown): unknown {
    // pg refuses a value it cannot serialise before sending anything: the
    // session is fine unless pg also saw its socket die.
    return this.session.translate(err, !this.#dead());
  }

  // pg marks the client before it rejects the queries of a dead socket.
  #dead(): boolean {
    const s = this.#client as unknown as PgClientState;
    return s._ending === true || s._ended === true || s._queryable === false ||
      s.connection?.stream?.destroyed === true;
  }
}

// A 26000 about another statement (an EXECUTE inside a function) leaves ours
// alone: re-preparing ours would fail with 42P05. The name is matched whatever
// the server's language quotes it with.
function mentions(err: unknown, name: string): boolean {
  const message = (err as { message?: unknown }).message;
  return typeof message === "string" && new RegExp(`${name}(?!\\w)`).test(message);
}
