/**
 * A pipelined group (`pipeline: true`, autocommit only): several handlers use
 * one session at once, so the driver pipelines their queries. Each lease takes
 * the session with the fewest handlers on it (each holding at most a few
 * queries in flight). Anything that would make one
 * caller's state visible to another — transactions, session-changing
 * statements — is refused.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../core/clock.ts";
import type { ResourcePoolStats } from "../core/resource_pool.ts";
import type { DriverConnection } from "../driver.ts";
import type { EndpointInfo, EndpointScope, EndpointSet } from "../endpoints/endpoint_set.ts";
import type { GroupConfig } from "../config/normalize.ts";
import {
  ConnectionError,
  HandlerReleasedError,
  PoolClosedError,
  PoolError,
  QueryError,
} from "../errors.ts";
import type { Handler, QueryResult } from "../handler/handler.ts";
import { invalidQuery } from "../handler/query_args.ts";
import { readSql } from "../sql/read_sql.ts";

interface Shared {
  readonly connection: DriverConnection;
  readonly endpoint: number;
  /** Handlers holding a share of it. */
  holders: number;
}

/** A group whose sessions are shared by concurrent handlers. */
export class PipelinedGroup {
  /** The group's name. */
  readonly name: string;
  readonly #max: number;
  readonly #endpoints: EndpointSet;
  readonly #scope: EndpointScope;
  readonly #close: (connection: DriverConnection) => void;
  readonly #clock: Clock;
  readonly #shared: Shared[] = [];
  #opening: Promise<void> | undefined;
  #cursor = 0;
  #leased = 0;
  #closed = false;
  #drained: (() => void) | undefined;
  readonly #counts = { acquired: 0, created: 0, createFailed: 0, destroyed: 0 };

  /**
   * Builds the group; no I/O.
   *
   * @param name Group name.
   * @param config Its size.
   * @param endpoints The pool's endpoints.
   * @param close Closes a session (tracked by the pool).
   * @param clock The clock.
   */
  constructor(
    name: string,
    config: GroupConfig,
    endpoints: EndpointSet,
    close: (connection: DriverConnection) => void,
    clock: Clock,
  ) {
    this.name = name;
    this.#clock = clock;
    this.#max = config.connectionCount;
    this.#endpoints = endpoints;
    this.#scope = endpoints.scope(name, config);
    this.#close = close;
  }

  /**
   * Leases a share of the least busy session; opens sessions up to
   * `connection_count` while every open one is busy.
   *
   * @returns The handler.
   * @throws {PoolClosedError} The pool was ended.
   * @throws {OfflineError} No session is open and no endpoint can be reached.
   */
  lease(): SharedHandler | Promise<SharedHandler> {
    if (this.#closed) throw new PoolClosedError();
    const best = this.#leastBusy();
    if (
      best && (best.holders === 0 || this.#shared.length + (this.#opening ? 1 : 0) >= this.#max)
    ) {
      return this.#handOut(best);
    }
    // Every session is busy: open one more, but do not make the caller wait for it.
    const opening = this.#open();
    if (best) {
      opening.catch(() => {});
      return this.#handOut(best);
    }
    return opening.then(() => this.lease());
  }

  /**
   * Gauges and counters, in the shape of an exclusive group's.
   *
   * @returns A fresh snapshot.
   */
  stats(): ResourcePoolStats {
    const idle = this.#shared.filter((s) => s.holders === 0).length;
    return {
      total: this.#shared.length,
      idle,
      leased: this.#leased,
      waiting: 0,
      pending: this.#opening ? 1 : 0,
      acquired: this.#counts.acquired,
      waited: 0,
      timedOut: 0,
      created: this.#counts.created,
      createFailed: this.#counts.createFailed,
      destroyed: this.#counts.destroyed,
    };
  }

  /**
   * Stops leasing, waits up to `graceMs` for handlers out, closes every session.
   *
   * @param graceMs How long to wait for handlers.
   */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    if (this.#leased > 0) {
      let timer: TimerHandle;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = this.#clock.setTimeout(resolve, graceMs);
      });
      this.#clock.clearTimeout(timer);
    }
    await this.#opening?.catch(() => {});
    for (const s of this.#shared.splice(0)) this.#drop(s);
  }

  /** @internal A handler came back. */
  returned(shared: Shared): void {
    shared.holders--;
    this.#leased--;
    if (this.#leased === 0) this.#drained?.();
  }

  /** @internal A session broke: take it out of rotation. */
  broken(shared: Shared): void {
    const at = this.#shared.indexOf(shared);
    if (at < 0) return;
    this.#shared.splice(at, 1);
    this.#drop(shared);
  }

  /** @internal Label of an endpoint. */
  label(endpoint: number): string {
    return this.#endpoints.label(endpoint);
  }

  /** @internal Host and port of an endpoint. */
  endpointOf(endpoint: number): EndpointInfo {
    return this.#endpoints.info(endpoint);
  }

  #handOut(shared: Shared): SharedHandler {
    shared.holders++;
    this.#leased++;
    this.#counts.acquired++;
    return new SharedHandler(this, shared);
  }

  // Fewest holders; ties go round the sessions.
  #leastBusy(): Shared | undefined {
    const list = this.#shared;
    const n = list.length;
    let best: Shared | undefined;
    for (let k = 0; k < n; k++) {
      const s = list[(this.#cursor + k) % n];
      if (s.connection.closed) continue;
      if (this.#scope.checksRole && !this.#scope.fits(s.endpoint, s.connection)) continue;
      if (!best || s.holders < best.holders) best = s;
      if (best.holders === 0) break;
    }
    // Sessions that died since: out of rotation, their slots free again.
    if (list.some((s) => s.connection.closed)) {
      for (const s of list.filter((s) => s.connection.closed)) this.broken(s);
    }
    if (list.length > 0) this.#cursor = (this.#cursor + 1) % list.length;
    return best;
  }

  #open(): Promise<void> {
    this.#opening ??= (async () => {
      try {
        const { connection, endpoint } = await this.#scope.connect(this.#scope.next());
        this.#counts.created++;
        if (this.#closed) {
          this.#scope.disconnected(endpoint);
          this.#close(connection);
          return;
        }
        this.#shared.push({ connection, endpoint, holders: 0 });
      } catch (err) {
        this.#counts.createFailed++;
        throw err;
      } finally {
        this.#opening = undefined;
      }
    })();
    return this.#opening;
  }

  #drop(shared: Shared): void {
    this.#counts.destroyed++;
    this.#scope.disconnected(shared.endpoint);
    this.#close(shared.connection);
  }
}

/** A handler of a pipelined group: queries only, no transactions, no session state. */
export class SharedHandler implements Handler {
  readonly #group: PipelinedGroup;
  readonly #shared: Shared;
  #released = false;

  /**
   * Wraps a share of a session.
   *
   * @param group The group.
   * @param shared The session.
   */
  constructor(group: PipelinedGroup, shared: Shared) {
    this.#group = group;
    this.#shared = shared;
  }

  get endpoint(): EndpointInfo {
    return this.#group.endpointOf(this.#shared.endpoint);
  }

  get group(): string {
    return this.#group.name;
  }

  async query<R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>> {
    if (this.#released) throw new HandlerReleasedError("query");
    const invalid = invalidQuery(text, params);
    if (invalid) throw invalid;
    const sql = readSql(text);
    if (sql.unsure) {
      throw this.#refuse("run SQL it cannot read (an unterminated comment or string)");
    }
    if (sql.controls) throw this.#refuse("run transaction statements");
    if (sql.changes !== 0) throw this.#refuse("change session state");
    const shared = this.#shared;
    try {
      return await shared.connection.query(text, params) as QueryResult<R>;
    } catch (err) {
      if (!shared.connection.closed) {
        throw err instanceof PoolError ? err : new QueryError(String(err), { cause: err });
      }
      this.#group.broken(shared);
      const label = this.#group.label(shared.endpoint);
      throw new ConnectionError(`Query failed on ${label}: the connection was lost`, label, {
        cause: err,
      });
    }
  }

  commit(): Promise<void> {
    return Promise.reject(this.#refuse("commit()"));
  }

  rollback(): Promise<void> {
    return Promise.reject(this.#refuse("rollback()"));
  }

  markDirty(): void {
    throw this.#refuse("markDirty()");
  }

  release(): Promise<void> {
    this.finish();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** The caller gave up on `fn`: the share is returned (the session is others' too). */
  abandon(): void {
    this.finish();
  }

  /** Returns the share; later calls do nothing. */
  finish(): void {
    if (this.#released) return;
    this.#released = true;
    this.#group.returned(this.#shared);
  }

  #refuse(what: string): PoolError {
    return new PoolError(
      `Cannot ${what} in group "${this.#group.name}": it is pipelined (pipeline: true), so its sessions are shared by concurrent callers; use a group without pipeline for that`,
    );
  }
}
