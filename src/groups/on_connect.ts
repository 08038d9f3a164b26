/**
 * What runs on every new session of a group before its first use: the
 * Python module's `sqlprepare` (`"SQLPrepare"."PrepareQueries"()`), then the
 * group's `onConnect` hook (SQL text, or a function given the session). A
 * failure or a hook past its deadline costs the session: the group closes it
 * and the lease fails as a failed connect does, with a {@linkcode ConnectionError}
 * that names the hook.
 *
 * @module
 */
import { type Clock, settleWithin } from "../core/clock.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointConnection, EndpointScope } from "../endpoints/endpoint_scope.ts";
import type { EndpointSet } from "../endpoints/endpoint_set.ts";
import { ConnectionError } from "../errors.ts";
import type { QueryResult } from "../handler/handler.ts";
import { invalidQuery, nulInText } from "../handler/query_args.ts";
import { messageOf, queryFailure } from "../handler/failures.ts";
import { PREPARE_QUERIES_SQL } from "../python/sqlprepare.ts";
import { readSql } from "../sql/read_sql.ts";
import { TxEffect } from "../sql/transaction_effects.ts";
import { isTransactionPooled, sessionStateRefused } from "../endpoints/transaction_pooler.ts";
import { redactCredentials } from "../redact.ts";
import { cancelRunning } from "./cancel_running.ts";

/** A session just opened, as an `onConnect` function sees it. */
export interface NewSession {
  /**
   * Runs one statement (`$1` parameters) on the new session, outside any
   * transaction: what it sets (`SET`, `PREPARE`, temp tables) stays with the session.
   *
   * @param text SQL text.
   * @param params Values for `$1`, `$2`…
   * @returns Rows, row count and command.
   * @throws {QueryError} The server rejected the statement.
   */
  query<R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  /** The group that opened the session. */
  readonly group: string;
  /** `host:port` of the session's endpoint. */
  readonly endpoint: string;
}

/**
 * A group's `onConnect`: SQL run on every new session, or a function given
 * the session. A throw (or a rejected promise) discards the session.
 */
export type OnConnect = string | ((session: NewSession) => Promise<void> | void);

/** What a group's new sessions need before their first use. */
export interface SetupConfig {
  /** Call `"SQLPrepare"."PrepareQueries"()` (the Python module's `sqlprepare`). */
  readonly sqlprepare: boolean;
  /** The hook, if any. */
  readonly onConnect: OnConnect | undefined;
}

/** What the setup needs from the group and its pool. */
export interface SetupContext {
  /** The group's endpoints: a failed session is counted out there. */
  readonly scope: EndpointScope;
  /** The pool's endpoints, for labels. */
  readonly endpoints: EndpointSet;
  /** The clock of the deadline. */
  readonly clock: Clock;
  /** Per endpoint: how long the setup may take (its `connect_timeout`). */
  readonly setupMs: readonly number[];
  /** Closes a session. */
  close(connection: DriverConnection): void;
}

/** Prepares one new session; on failure closes it and rejects with a `ConnectionError`. */
export type SessionSetup = (opened: EndpointConnection) => Promise<void>;

/**
 * The setup of a group's new sessions.
 *
 * @param group The group's name, for messages and the hook.
 * @param config Its `sqlprepare` and `onConnect`.
 * @param ctx Its endpoints, the clock, the deadlines, and how to close a session.
 * @returns The setup, or `undefined` when there is nothing to run (no cost at all).
 */
export function sessionSetup(
  group: string,
  config: SetupConfig,
  ctx: SetupContext,
): SessionSetup | undefined {
  const { sqlprepare, onConnect } = config;
  if (!sqlprepare && onConnect === undefined) return undefined;
  const steps = async (connection: DriverConnection, label: string) => {
    if (sqlprepare) await step("sqlprepare", () => connection.query(PREPARE_QUERIES_SQL));
    const hook = new HookQueries(connection, group, label);
    if (typeof onConnect === "string") await step("on_connect", () => hook.run(onConnect));
    else if (onConnect) await step("on_connect", () => onConnect(newSession(hook)));
    await step("on_connect", () => hook.settled());
    // Handed out in a transaction, the session would run every lease's work in it, never committed.
    if (hook.open) {
      throw new StepError(
        "on_connect",
        new Error(
          "it left a transaction open (or SQL the pool cannot read may have): end it with COMMIT in the hook",
        ),
      );
    }
  };
  const { clock, scope } = ctx;
  return async ({ connection, endpoint }) => {
    const label = ctx.endpoints.label(endpoint);
    const ms = ctx.setupMs[endpoint];
    let running = true;
    try {
      const work = steps(connection, label).finally(() => (running = false));
      await settleWithin(clock, untilEnded(work, ctx.endpoints.ended), ms, () => {
        const why = new Error(`did not finish within ${ms} ms (the endpoint's connect_timeout)`);
        return new StepError(onConnect === undefined ? "sqlprepare" : "on_connect", why);
      });
    } catch (err) {
      scope.disconnected(endpoint);
      // Cut short (the deadline, end()): its statement would run on, locks held.
      if (running) cancelRunning(connection);
      ctx.close(connection);
      const { what, cause } = err instanceof StepError ? err : { what: "setup", cause: err };
      throw new ConnectionError(
        `Cannot use a new session of group "${group}" on ${label}: its ${what} failed: ${
          redactCredentials(messageOf(cause))
        }`,
        label,
        { cause, code: (cause as { code?: string } | undefined)?.code, reached: true },
      );
    }
  };
}

// The setup, cut short when the pool ends: the session serves nobody then.
function untilEnded(work: Promise<void>, ended: AbortSignal): Promise<void> {
  if (ended.aborted) return Promise.reject(new StepError("setup", new Error("the pool ended")));
  return new Promise((resolve, reject) => {
    const cut = () => reject(new StepError("setup", new Error("the pool ended")));
    ended.addEventListener("abort", cut, { once: true });
    work.then(resolve, reject).finally(() => ended.removeEventListener("abort", cut));
  });
}

// Which step failed, and why.
class StepError {
  readonly what: string;
  readonly cause: unknown;
  constructor(what: string, cause: unknown) {
    this.what = what;
    this.cause = cause;
  }
}

async function step(what: string, work: () => Promise<unknown> | void): Promise<void> {
  try {
    await work();
  } catch (err) {
    throw new StepError(what, err);
  }
}

// The hook's statements, read as a handler's are: whether they leave a transaction open, and,
// through a transaction pooler, no session state (it would stay on a server session others get).
class HookQueries {
  open = false;
  // Statements the hook started, awaited or not: the session is ready once all have answered.
  readonly #sent: Promise<unknown>[] = [];
  constructor(
    readonly connection: DriverConnection,
    readonly group: string,
    readonly endpoint: string,
  ) {}

  run(text: string, params?: readonly unknown[]): Promise<unknown> {
    const reply = this.#run(text, params);
    this.#sent.push(reply);
    return reply;
  }

  // Rejects with the first statement that failed, even one the hook did not await.
  async settled(): Promise<void> {
    for (const reply of this.#sent) await reply;
  }

  async #run(text: string, params?: readonly unknown[]): Promise<unknown> {
    const sql = readSql(text);
    if (sql.nulAt >= 0) throw nulInText(sql.nulAt);
    if (sql.changes !== 0 && isTransactionPooled(this.connection)) {
      throw sessionStateRefused(this.group, this.endpoint);
    }
    const result = await this.connection.query(text, params);
    if (sql.tx === TxEffect.Opens || sql.tx === TxEffect.Unknown) this.open = true;
    else if (sql.tx === TxEffect.Ends) this.open = false;
    return result;
  }
}

function newSession(hook: HookQueries): NewSession {
  return {
    group: hook.group,
    endpoint: hook.endpoint,
    async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const invalid = invalidQuery(text, params);
      if (invalid) throw invalid;
      try {
        return await hook.run(text, params) as QueryResult<R>;
      } catch (err) {
        throw queryFailure(err);
      }
    },
  };
}
