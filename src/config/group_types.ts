/**
 * The shapes of one group: as the user may write it ({@linkcode GroupInput})
 * and as `normalizeConfig` returns it ({@linkcode GroupConfig}). Types only.
 *
 * @module
 */
import type { OnConnect } from "../groups/on_connect.ts";
import type { ParamStyle } from "../python/pyformat.ts";

/**
 * libpq's `target_session_attrs`: which servers a group's sessions may use.
 * `"read-write"`: accepts writes by default (not in recovery and
 * `default_transaction_read_only` off); `"read-only"`: the opposite;
 * `"primary"` / `"standby"`: not in recovery / in recovery;
 * `"prefer-standby"`: a standby while one is reachable, else a primary;
 * `"any"`: every server.
 */
export type TargetSessionAttrs =
  | "any"
  | "read-write"
  | "read-only"
  | "primary"
  | "standby"
  | "prefer-standby";

/** One group as the user may write it. */
export interface GroupInput {
  /** Most connections this group opens (alias `connectionCount`). Required, integer ≥ 1. */
  connection_count?: number;
  /** Alias of `connection_count`. */
  connectionCount?: number;
  /** `false` runs each `withHandler` inside a transaction. @default {true} */
  autocommit?: boolean;
  /**
   * What release does about session state a handler changed (`SET`, temp
   * tables, prepared statements, advisory locks, `LISTEN`, held cursors):
   * `"auto"` undoes what the handler changed, and costs nothing when it
   * changed nothing; `"none"` trusts the callers; any other string is SQL run
   * on every release. The keywords are matched exactly: a lone word that is
   * no SQL statement (`"Auto"`, `"none "`) is a `ConfigError`. @default {"auto"}
   */
  reset?: string;
  /**
   * Let concurrent handlers share sessions so the driver pipelines their
   * queries (autocommit groups only; transactions and session-changing
   * statements are refused). Each lease takes the session with the fewest
   * queries in flight. @default {false}
   */
  pipeline?: boolean;
  /** Ids of the endpoints this group may use (see `EndpointInput.id`). @default {all endpoints} */
  endpoints?: readonly string[];
  /**
   * Which servers the group's sessions may use, with libpq's values and
   * meaning (alias `targetSessionAttrs`). A URL's `?target_session_attrs=`
   * sets the default of every group. @default {"any"}
   */
  target_session_attrs?: TargetSessionAttrs;
  /** Alias of `target_session_attrs`. */
  targetSessionAttrs?: TargetSessionAttrs;
  /**
   * How many times `fn` runs again (transactional groups only) when its
   * transaction failed with a serialization failure (40001) or a deadlock
   * (40P01), or when the session was lost before any of `fn`'s queries got an
   * answer; never after a COMMIT whose outcome is unknown. @default {0}
   */
  retry?: number;
  /**
   * Most callers queued for a session (alias `maxWaiting`); past it a lease
   * fails at once with `PoolOverloadedError`. An integer ≥ 0 (0: never wait)
   * or `Infinity`. @default {Infinity}
   */
  max_waiting?: number;
  /** Alias of `max_waiting`. */
  maxWaiting?: number;
  /** Call `"SQLPrepare"."PrepareQueries"()` on each new session (the Python module's key). @default {false} */
  sqlprepare?: boolean;
  /** SQL, or a function, run on each new session before its first use (alias `onConnect`); replaces the pool's. */
  on_connect?: OnConnect;
  /** Alias of `on_connect`. */
  onConnect?: OnConnect;
  /** `"numeric"` (`$1`) or `"pyformat"` (`%s`, `%(name)s`); replaces the pool's. @default {"numeric"} */
  paramstyle?: ParamStyle;
}

/** A normalised group. */
export interface GroupConfig {
  /** Most connections the group opens, ≥ 1. */
  readonly connectionCount: number;
  /** `false` runs each `withHandler` inside a transaction. */
  readonly autocommit: boolean;
  /** `"auto"`, `"none"`, or SQL run on every release. */
  readonly reset: string;
  /** Sessions shared by concurrent handlers. */
  readonly pipeline: boolean;
  /** Ids of the endpoints the group may use, in the pool's order; `undefined`: all. */
  readonly endpoints: readonly string[] | undefined;
  /** Which servers the group's sessions may use. */
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** How many times `fn` may run again (see `GroupInput.retry`); 0 in autocommit groups. */
  readonly retry: number;
  /** Most callers queued for a session (`Infinity`: unbounded). */
  readonly maxWaiting: number;
  /** Call `"SQLPrepare"."PrepareQueries"()` on each new session. */
  readonly sqlprepare: boolean;
  /** Run on each new session before its first use, if set. */
  readonly onConnect: OnConnect | undefined;
  /** How query parameters are written. */
  readonly paramstyle: ParamStyle;
}
