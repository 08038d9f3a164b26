/**
 * The error hierarchy, imported from here. Every error the pool raises is a
 * {@linkcode PoolError}; errors thrown by the caller's own `fn` pass through
 * unchanged. One file per kind, under `errors/`.
 *
 * @module
 */
export { PoolError } from "./error_kinds/pool_error.ts";
export {
  ConfigError,
  HandlerReleasedError,
  QueryParamsError,
  UnconfiguredGroupError,
} from "./error_kinds/usage_errors.ts";
export {
  CommitUnknownError,
  ConnectionError,
  type ConnectionErrorOptions,
  OfflineError,
} from "./error_kinds/connection_errors.ts";
export { QueryError, type QueryErrorDetails } from "./error_kinds/query_error.ts";
export {
  AcquireTimeoutError,
  PoolClosedError,
  PoolOverloadedError,
} from "./error_kinds/capacity_errors.ts";
export { ListenUnsupportedError, PoolShareError } from "./error_kinds/sharing_errors.ts";
export { isConnectionBroken, isLoginRefused, isRetryable } from "./error_kinds/predicates.ts";
