/**
 * The handler of a pipelined group: queries only, on a session other
 * handlers use at the same time, so no transactions and no session state.
 *
 * @module
 */
import type { DriverConnection, ReplySettler } from "../driver.ts";
import type { EndpointInfo } from "../endpoints/endpoint_set.ts";
import { HandlerReleasedError, PoolError } from "../errors.ts";
import type { QueryResult } from "./handler.ts";
import type { GroupHandler } from "../groups/group.ts";
import { invalidQuery, nulInText } from "./query_args.ts";
import type { LeaseWatch, WatchRecord } from "./lease_watch.ts";
import { sendShared } from "./shared_reply.ts";
import { readSql } from "../sql/read_sql.ts";
import { installQueryCalls, type QueryCalls, type QueryRunner } from "./query_calls.ts";
import { freshProgress, type Progress, retireAt, stalledFor } from "../core/housekeeper.ts";

/** One shared session of a pipelined group. */
export interface Shared extends Progress {
  readonly connection: DriverConnection;
  readonly endpoint: number;
  /** Handlers holding a share of it. */
  holders: number;
  /** Clock time past which it is retired (jittered lifetime); Infinity: never. */
  readonly expiresAt: number;
  /** Clock time of the first sweep that found it without holders, since it last had some. */
  idleSince: number | undefined;
  /** Clock time it was last picked without holders (or opened, or answered a ping): the ping before use counts from it. */
  idleFrom: number;
  /** Its ping before use is out: out of rotation until it answers. */
  pinging: boolean;
  /** Past its lifetime: no new holders, closed when the last one leaves. */
  retire: boolean;
  /** Settles its replies (made at first use). */
  settler?: ReplySettler;
}

/**
 * A session just opened, with no holders yet.
 *
 * @param connection The session.
 * @param endpoint Its endpoint's index.
 * @param now Clock time.
 * @param maxLifetimeMs Its lifetime (jittered down by up to 10%); 0: unlimited.
 * @returns Its bookkeeping.
 */
export function newShared(
  connection: DriverConnection,
  endpoint: number,
  now: number,
  maxLifetimeMs: number,
): Shared {
  return {
    connection,
    endpoint,
    holders: 0,
    expiresAt: retireAt(now, maxLifetimeMs),
    idleSince: undefined,
    idleFrom: now,
    pinging: false,
    retire: false,
    ...freshProgress(now),
  };
}

/**
 * What one housekeeping sweep makes of a shared session: `"stalled"` (its
 * queries got no reply within query_timeout and its grace: a dead network),
 * `"expired"` (without holders past the idle timeout, or retired past its
 * lifetime; idle time counts from the first sweep that found it without
 * holders), or `undefined`. A busy one past its lifetime is marked to retire.
 *
 * @param s The session.
 * @param now Clock time.
 * @param idleTimeoutMs The idle timeout; 0: none.
 * @param stallMs Its endpoint's stall deadline; 0: none.
 * @returns The verdict.
 */
export function sweepVerdict(
  s: Shared,
  now: number,
  idleTimeoutMs: number,
  stallMs: number,
): "stalled" | "expired" | undefined {
  if (stalledFor(s, now) >= stallMs && stallMs > 0) return "stalled";
  if (now >= s.expiresAt) s.retire = true;
  if (s.holders > 0) {
    s.idleSince = undefined;
    return undefined;
  }
  s.idleSince ??= now;
  const idleTooLong = idleTimeoutMs > 0 && now - s.idleSince >= idleTimeoutMs;
  return s.retire || idleTooLong ? "expired" : undefined;
}

/**
 * One housekeeping sweep over a group's shared sessions: a stalled one is
 * closed (its queries in flight fail, which takes it out of rotation), an
 * expired one leaves the rotation.
 *
 * @param list The sessions (a copy is walked).
 * @param now Clock time.
 * @param idleTimeoutMs The idle timeout; 0: none.
 * @param opts Per endpoint, the stall deadline; how to close a session.
 * @param broken Takes a session out of rotation, with why.
 */
export function sweepShared(
  list: readonly Shared[],
  now: number,
  idleTimeoutMs: number,
  opts: { readonly stallMs: readonly number[]; close(connection: DriverConnection): unknown },
  broken: (s: Shared, why: "lifetime" | "idle-timeout") => void,
): void {
  for (const s of [...list]) {
    const verdict = sweepVerdict(s, now, idleTimeoutMs, opts.stallMs[s.endpoint]);
    if (verdict === "stalled") opts.close(s.connection);
    else if (verdict === "expired") broken(s, now >= s.expiresAt ? "lifetime" : "idle-timeout");
  }
}

/** What a shared handler needs from its group. */
export interface SharedOwner {
  readonly name: string;
  /** Queries use `%s` / `%(name)s` placeholders (`paramstyle: "pyformat"`). */
  readonly pyformat?: boolean;
  endpointOf(endpoint: number): EndpointInfo;
  label(endpoint: number): string;
  /** A handler gave its share back. */
  returned(shared: Shared): void;
  /** The session broke: out of rotation. */
  broken(shared: Shared): void;
  /** A statement failed with this SQLSTATE (25006 may mean the server's role changed). */
  statementFailed(endpoint: number, code: string | undefined): void;
}

/** A handler of a pipelined group. */
export class SharedHandler implements GroupHandler, QueryRunner {
  readonly #group: SharedOwner;
  readonly #shared: Shared;
  #released = false;
  #watchRecord: WatchRecord | undefined;

  /**
   * Wraps a share of a session.
   *
   * @param group The group.
   * @param shared The session.
   */
  constructor(group: SharedOwner, shared: Shared) {
    this.#group = group;
    this.#shared = shared;
  }

  get endpoint(): EndpointInfo {
    return this.#group.endpointOf(this.#shared.endpoint);
  }

  get group(): string {
    return this.#group.name;
  }

  watchWith(watch: LeaseWatch, stack: string | undefined): void {
    const group = this.#group;
    const shared = this.#shared;
    // The reclaim closure must not hold the handler, or it could never be collected.
    this.#watchRecord = watch.watch(this, group.name, () => group.returned(shared), stack);
  }

  declare readonly query: QueryCalls["query"];
  declare readonly sql: QueryCalls["sql"];
  declare readonly queryPrepared: QueryCalls["queryPrepared"];

  /** Whether the group's queries use `%s` / `%(name)s` placeholders. */
  get pyformat(): boolean | undefined {
    return this.#group.pyformat;
  }

  /** Runs one statement with `$n` placeholders (see {@linkcode QueryRunner.run}). */
  run<R>(text: string, params: readonly unknown[] | undefined): Promise<QueryResult<R>> {
    if (this.#released) return Promise.reject(new HandlerReleasedError("query"));
    const invalid = invalidQuery(text, params);
    if (invalid) return Promise.reject(invalid);
    const sql = readSql(text);
    if (sql.unsure) {
      if (sql.nulAt >= 0) return Promise.reject(nulInText(sql.nulAt));
      return Promise.reject(
        this.#refuse("run SQL it cannot read (an unterminated comment or string)"),
      );
    }
    if (sql.controls) return Promise.reject(this.#refuse("run transaction statements"));
    if (sql.changes !== 0) return Promise.reject(this.#refuse("change session state"));
    return sendShared(this.#group, this.#shared, text, params) as Promise<QueryResult<R>>;
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

  /**
   * Returns the share; later calls do nothing.
   *
   * @returns Nothing: no round trip is ever needed.
   */
  finish(): undefined {
    if (this.#released) return;
    this.#watchRecord?.watch.unwatch(this.#watchRecord);
    this.#giveBack();
  }

  #giveBack(): void {
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

installQueryCalls(SharedHandler);
