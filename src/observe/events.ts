/**
 * The pool's events: their names and the `detail` each carries. The pool is
 * an `EventTarget`; every event is a `CustomEvent` whose `detail` is one of
 * these types. None carries a password: endpoints are named by their id and
 * error messages are redacted.
 *
 * @module
 */
import type { DriverNotice } from "../driver.ts";
import type { LeakDetail, UnreleasedDetail } from "../handler/lease_watch.ts";

/**
 * Why a session was closed:
 * - `"idle-timeout"`: idle longer than `idle_timeout`;
 * - `"lifetime"`: past its `max_lifetime` (closed when idle, or at release);
 * - `"broken"`: the connection was lost (server gone, network cut, a stall past `query_timeout`);
 * - `"ping-failed"`: the ping before reuse after idle failed or went unanswered;
 * - `"role-changed"`: its server's role no longer matches the group's `target_session_attrs`;
 * - `"rebalanced"`: retired so that an endpoint back from an outage gets its
 *   share, or so that its slot of a threaded pool's budget serves another isolate;
 * - `"reset-failed"`: it could not be made clean for the next caller (the
 *   rollback or reset failed, a query `fn` left running did not finish, or the
 *   reset would undo its group's `on_connect` / `sqlprepare` setup);
 * - `"abandoned"`: its caller gave up (aborted) while `fn` ran, or its handler
 *   was garbage-collected unreleased;
 * - `"reconfigured"`: `pool.resize()` shrank its group, `pool.drain()` replaced it, or
 *   `pool.setEndpoints()` removed its endpoint (closed when idle, or at release);
 * - `"clock-leap"`: idle in a pipelined group across a clock leap (a suspend), so maybe dead;
 * - `"pool-ended"`: `pool.end()`.
 */
export type SessionCloseReason =
  | "idle-timeout"
  | "lifetime"
  | "broken"
  | "ping-failed"
  | "role-changed"
  | "rebalanced"
  | "reset-failed"
  | "abandoned"
  | "reconfigured"
  | "clock-leap"
  | "pool-ended";

/** `detail` of a `sessionopen` event: a group opened a session. */
export interface SessionOpenDetail {
  /** The group that opened it. */
  group: string;
  /** The id of the endpoint it is connected to. */
  endpoint: string;
  /** How long the group waited for it, in ms (the connect, login, and any failover over endpoints). */
  connectMs: number;
}

/** `detail` of a `sessionclose` event: a group closed a session. */
export interface SessionCloseDetail {
  /** The group it belonged to. */
  group: string;
  /** The id of the endpoint it was connected to. */
  endpoint: string;
  /** Why it was closed. */
  reason: SessionCloseReason;
}

/** `detail` of an `endpointdown` event: connects to an endpoint failed; it is backed off. */
export interface EndpointDownDetail {
  /** The endpoint's id. */
  endpoint: string;
  /** The connect error's message (credentials redacted), if there was one. */
  error: string | undefined;
}

/** `detail` of an `endpointup` event: a connect to an endpoint that was down succeeded. */
export interface EndpointUpDetail {
  /** The endpoint's id. */
  endpoint: string;
}

/** `detail` of a `leasewait` event: a lease had to queue for a session. */
export interface LeaseWaitDetail {
  /** The group leased from. */
  group: string;
  /** How long the caller queued, in ms. */
  waitedMs: number;
}

/** `detail` of a `clockleap` event: time leapt (a suspend, a frozen isolate). */
export interface ClockLeapDetail {
  /** The size of the leap, in ms. */
  leapMs: number;
}

/**
 * Why the listen session of `pool.listen` was lost:
 * - `"broken"`: its connection was lost (server gone or restarted, backend
 *   terminated, network reset);
 * - `"ping-failed"`: its keep-alive ping went unanswered within
 *   `listenPingTimeoutMs` (a network gone silent), so the pool closed it;
 * - `"reconfigured"`: `pool.setEndpoints()` removed its endpoint, so it moved.
 */
export type ListenLostReason = "broken" | "ping-failed" | "reconfigured";

/** `detail` of a `listenlost` event: the listen session was lost; notifications may be missed until `listenrestored`. */
export interface ListenLostDetail {
  /** The id of the endpoint the lost session was connected to. */
  endpoint: string;
  /** The channels listened to, none of which hears a NOTIFY until the session is back. */
  channels: readonly string[];
  /** Why it was lost. */
  reason: ListenLostReason;
  /** What the pool knows of the cause (credentials redacted), if more than `reason`. */
  error: string | undefined;
}

/** `detail` of a `listenrestored` event: a new listen session LISTENs to every channel again. */
export interface ListenRestoredDetail {
  /** The id of the endpoint the new session is connected to. */
  endpoint: string;
  /** The channels listened to again. */
  channels: readonly string[];
  /**
   * How long notifications could have been missed, in ms: from the last time
   * the lost session was known to listen (its last answered keep-alive ping,
   * or the answers to its LISTENs) until the new one's LISTENs were answered.
   * An upper bound; it starts no earlier than the previous `listenrestored`.
   */
  missedMs: number;
}

/**
 * Every event a pool dispatches, by name: each is a `CustomEvent` of the
 * given detail. `pool.addEventListener(name, listener)` types the listener's
 * event from this map.
 */
export interface PoolEventMap {
  /** A group opened a session. */
  sessionopen: CustomEvent<SessionOpenDetail>;
  /** A group closed a session, and why. */
  sessionclose: CustomEvent<SessionCloseDetail>;
  /** An endpoint went down (connects failed; it is backed off). Once per outage. */
  endpointdown: CustomEvent<EndpointDownDetail>;
  /** An endpoint that was down answered again. Once per outage. */
  endpointup: CustomEvent<EndpointUpDetail>;
  /** A lease had to queue for a session (never sent for a lease served at once). */
  leasewait: CustomEvent<LeaseWaitDetail>;
  /** A lease held longer than `leakDetectionMs`, reported once. */
  leak: CustomEvent<LeakDetail>;
  /** A handler from `lease()` was garbage-collected unreleased; its session was closed. */
  unreleased: CustomEvent<UnreleasedDetail>;
  /** Time leapt; idle sessions get pinged before their next use. */
  clockleap: CustomEvent<ClockLeapDetail>;
  /** A server notice (`RAISE NOTICE`, a warning) on any session. */
  notice: CustomEvent<DriverNotice>;
  /** The listen session of `pool.listen` was lost. Once per loss. */
  listenlost: CustomEvent<ListenLostDetail>;
  /** After a `listenlost`, a new listen session listens to every channel again. Once per loss. */
  listenrestored: CustomEvent<ListenRestoredDetail>;
}

/** The name of a pool event. */
export type PoolEventName = keyof PoolEventMap;

/** The `detail` of the pool event `K`. */
export type PoolEventDetail<K extends PoolEventName> = PoolEventMap[K]["detail"];
