/**
 * The error hierarchy, imported from here. Every error the pool raises is a
 * {@linkcode PoolError}; errors thrown by the caller's own `fn` pass through
 * unchanged. One file per kind, under `errors/`.
 *
 * @module
 */
export { PoolError } from "./errors/pool_error.ts";
export {
  ConfigError,
  HandlerReleasedError,
  QueryParamsError,
  UnconfiguredGroupError,
} from "./errors/usage_errors.ts";
export {
  CommitUnknownError,
  ConnectionError,
  type ConnectionErrorOptions,
  OfflineError,
} from "./errors/connection_errors.ts";
export { QueryError, type QueryErrorDetails } from "./errors/query_error.ts";
export {
  AcquireTimeoutError,
  PoolClosedError,
  PoolOverloadedError,
} from "./errors/capacity_errors.ts";
export { ListenUnsupportedError, PoolShareError } from "./errors/sharing_errors.ts";
export { isConnectionBroken, isLoginRefused, isRetryable } from "./errors/predicates.ts";
