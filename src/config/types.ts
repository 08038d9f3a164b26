/**
 * The shapes of a whole pool configuration: what the user may write
 * ({@linkcode PoolConfigInput}) and what `normalizeConfig` in `normalize.ts`
 * returns ({@linkcode PoolConfig}). Types only: the defaults live in
 * `defaults.ts`; one endpoint's and one group's shapes in `endpoint_types.ts`
 * and `group_types.ts`.
 *
 * @module
 */
import type { Driver } from "../driver.ts";
import type { OnConnect } from "../groups/on_connect.ts";
import type { ParamStyle } from "../python/pyformat.ts";
import type { EndpointConfig, EndpointInput } from "./endpoint_types.ts";
import type { GroupConfig, GroupInput } from "./group_types.ts";

/** The pool configuration as the user writes it. */
export interface PoolConfigInput {
  /** `"non-threaded"` (default) or `"threaded"`: the Workers of a process share each group's budget and endpoint health through `pool.share()`. */
  type?: "threaded" | "non-threaded";
  /** One endpoint, a list of them, a connection URL (multi-host allowed) or a list of URLs. */
  db: string | EndpointInput | readonly (string | EndpointInput)[];
  /** The groups, by name. */
  groups: Record<string, GroupInput>;
  /** The driver; by default Bun.SQL on Bun, postgres.js elsewhere. */
  driver?: Driver;
  /** Every group's `on_connect` unless the group gives its own (alias `onConnect`). */
  on_connect?: OnConnect;
  /** Alias of `on_connect`. */
  onConnect?: OnConnect;
  /** Every group's `paramstyle` unless the group gives its own. @default {"numeric"} */
  paramstyle?: ParamStyle;
  /** How long a lease waits for a free connection, in ms (alias `acquire_timeout_ms`). @default {10000} */
  acquireTimeoutMs?: number;
  /** Ping a connection that sat idle longer than this before handing it out, in ms (alias `ping_after_idle_ms`). @default {1000} */
  pingAfterIdleMs?: number;
  /** A ping before use unanswered this long breaks the session; the lease moves on (alias `ping_timeout_ms`). @default {5000} */
  pingTimeoutMs?: number;
  /** Close sessions idle longer than this, in ms; 0 keeps them (alias `idle_timeout_ms`). @default {600000} */
  idleTimeoutMs?: number;
  /** Retire a session at its next release after this age, less up to 10% jitter, in ms; 0: off (alias `max_lifetime_ms`). @default {1800000} */
  maxLifetimeMs?: number;
  /** How long `end()` waits for leased handlers to come back, in ms (alias `end_timeout_ms`). @default {5000} */
  endTimeoutMs?: number;
  /**
   * Let the process exit while every session is idle: idle sessions' sockets
   * do not keep it alive (pg-pool's name; drivers that expose their socket). @default {false}
   */
  allowExitOnIdle?: boolean;
  /**
   * Report a lease held longer than this, once, as a `leak` event carrying the
   * stack of the call that leased it; 0 turns it off (alias `leak_detection_ms`).
   * @default {0}
   */
  leakDetectionMs?: number;
  /** First back-off after an endpoint fails, in ms; doubles up to `reconnectMaxMs` (alias `reconnect_base_ms`). @default {250} */
  reconnectBaseMs?: number;
  /** Longest back-off of a failing endpoint, in ms (alias `reconnect_max_ms`). @default {10000} */
  reconnectMaxMs?: number;
  /** The `pool.listen` session is asked a `SELECT 1` this often, in ms (alias `listen_ping_interval_ms`). @default {10000} */
  listenPingIntervalMs?: number;
  /** No answer within this many ms to the listen session's ping, or to a new listen session's `LISTEN`s, closes it; it reconnects (alias `listen_ping_timeout_ms`). @default {5000} */
  listenPingTimeoutMs?: number;
}

/**
 * The normalised, frozen configuration. `groups` has a `null` prototype, so a
 * lookup such as `groups["constructor"]` finds only configured groups.
 */
export interface PoolConfig {
  /** Threading model. */
  readonly type: "threaded" | "non-threaded";
  /** The endpoints, in rotation order; never empty. */
  readonly endpoints: readonly EndpointConfig[];
  /** The groups, by name; never empty. */
  readonly groups: Readonly<Record<string, GroupConfig>>;
  /** The driver, or `undefined` for the runtime's default. Not frozen: it is the caller's object. */
  readonly driver: Driver | undefined;
  /** How long a lease waits for a free connection, in ms; > 0. */
  readonly acquireTimeoutMs: number;
  /** Idle time after which a connection is pinged before use, in ms. */
  readonly pingAfterIdleMs: number;
  /** How long the ping before use may take, in ms. */
  readonly pingTimeoutMs: number;
  /** Close sessions idle longer than this, in ms; 0: keep them. */
  readonly idleTimeoutMs: number;
  /** Retire a session at its next release after this age (less up to 10% jitter), in ms; 0: off. */
  readonly maxLifetimeMs: number;
  /** How long `end()` waits for leased handlers, in ms. */
  readonly endTimeoutMs: number;
  /** Idle sessions do not keep the process alive. */
  readonly allowExitOnIdle: boolean;
  /** Report leases held longer than this, in ms; 0: off. */
  readonly leakDetectionMs: number;
  /** First back-off of a failing endpoint, in ms. */
  readonly reconnectBaseMs: number;
  /** Longest back-off of a failing endpoint, in ms; ≥ `reconnectBaseMs`. */
  readonly reconnectMaxMs: number;
  /** How often the listen session is pinged, in ms; > 0. */
  readonly listenPingIntervalMs: number;
  /** How long the listen session may take to answer, in ms; > 0. */
  readonly listenPingTimeoutMs: number;
}
