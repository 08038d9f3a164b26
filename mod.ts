/**
 * pgdbpool: a PostgreSQL connection pool and endpoint balancer for Deno, Bun
 * and Node. `withHandler(group, fn)` leases a connection of a named group
 * (rotating over the endpoints), pings it if it sat idle, runs `fn`, commits
 * or rolls back, and releases it, whatever `fn` does.
 *
 * @example Quick start
 * ```ts
 * import { init, withHandler } from "@x/pgdbpool";
 *
 * init({
 *   db: "postgres://app:secret@db1:5432,db2:5432/app",
 *   groups: { default: { connection_count: 10 } },
 * });
 * const user = await withHandler("default", async (db) => {
 *   const { rows } = await db.query("SELECT * FROM users WHERE id = $1", [42]);
 *   return rows[0];
 * });
 * ```
 *
 * @module
 */
export { createPool, Pool } from "./src/pool.ts";
export type { LeaseOptions, PoolOptions, PoolStats, QueryOptions } from "./src/pool.ts";
export { defaultPool, end, init, query, withHandler } from "./src/default_pool.ts";
export type { Handler, QueryResult } from "./src/handler/handler.ts";
export type { NewSession, OnConnect } from "./src/groups/on_connect.ts";
export type { ParamStyle, QueryParams } from "./src/python/pyformat.ts";
export { SqlFragment, sqlFragment } from "./src/handler/sql_tag.ts";
export type { PassContext, PassFunction } from "./src/config/pass_function.ts";
export { PASS_FUNCTION_FAILED } from "./src/endpoints/password.ts";
export type { NotifyInfo, OnNotify } from "./src/listen/listener.ts";
export type {
  EndpointInput,
  GroupInput,
  PoolConfigInput,
  TargetSessionAttrs,
} from "./src/config/normalize.ts";
export type { EndpointInfo, EndpointStats } from "./src/endpoints/endpoint_set.ts";
export type { EndpointRole } from "./src/endpoints/roles.ts";
export type { GroupStats } from "./src/pool_types.ts";
export type { PoolHandle } from "./src/threaded/handle.ts";
export type { SharedGroupStats, SharedStats } from "./src/threaded/threaded_part.ts";
export type { ResourcePoolStats } from "./src/core/resource_pool.ts";
export type { Timings, TimingStats } from "./src/observe/timing.ts";
export type { Clock, TimerHandle } from "./src/core/clock.ts";
export type { LeakDetail, UnreleasedDetail } from "./src/handler/lease_watch.ts";
export type { PoolEventListener, PoolEventTarget } from "./src/observe/event_target.ts";
export type {
  ClockLeapDetail,
  EndpointDownDetail,
  EndpointUpDetail,
  LeaseWaitDetail,
  ListenLostDetail,
  ListenLostReason,
  ListenRestoredDetail,
  PoolEventDetail,
  PoolEventMap,
  PoolEventName,
  SessionCloseDetail,
  SessionCloseReason,
  SessionOpenDetail,
} from "./src/observe/events.ts";
export type {
  ConnectParams,
  Driver,
  DriverConnection,
  DriverNotice,
  DriverNotification,
  DriverResult,
  ReplySettler,
  SslMode,
} from "./src/driver.ts";
export {
  AcquireTimeoutError,
  CommitUnknownError,
  ConfigError,
  ConnectionError,
  HandlerReleasedError,
  isConnectionBroken,
  isLoginRefused,
  isRetryable,
  ListenUnsupportedError,
  OfflineError,
  PoolClosedError,
  PoolError,
  PoolOverloadedError,
  PoolShareError,
  QueryError,
  QueryParamsError,
  UnconfiguredGroupError,
} from "./src/errors.ts";
export type { ConnectionErrorOptions, QueryErrorDetails } from "./src/errors.ts";
