/**
 * {@linkcode DEFAULTS}: the one documented constant that fills every optional
 * key of a pool configuration.
 *
 * @module
 */
import type { SslMode } from "../driver.ts";
import type { PoolConfig } from "./types.ts";

/**
 * The value of every optional key, in the units of the normalised config
 * (milliseconds, megabytes). The Python module's seconds (`connect_timeout`)
 * are already converted.
 */
export const DEFAULTS:
  & {
    /** Threading model. */
    readonly type: "non-threaded";
    /** Endpoint TCP port. */
    readonly port: number;
    /** Endpoint user (the database defaults to the user). */
    readonly user: string;
    /** Endpoint TLS mode. */
    readonly ssl: SslMode;
    /** `connect_timeout` (10 s), in ms. */
    readonly connectTimeoutMs: number;
    /** `query_timeout`, in ms. */
    readonly queryTimeoutMs: number;
    /** `session_tmp_buffer`, in MB. */
    readonly sessionTmpBufferMb: number;
    /** `application_name`. */
    readonly applicationName: string;
    /** Group `autocommit`. */
    readonly autocommit: boolean;
    /** Group `reset`. */
    readonly reset: "auto";
    /** Group `pipeline`. */
    readonly pipeline: boolean;
    /** Group `target_session_attrs` (unless a URL gives one). */
    readonly targetSessionAttrs: "any";
    /** Group `retry`. */
    readonly retry: number;
    /** Group `max_waiting`. */
    readonly maxWaiting: number;
  }
  & Pick<
    PoolConfig,
    | "acquireTimeoutMs"
    | "pingAfterIdleMs"
    | "pingTimeoutMs"
    | "idleTimeoutMs"
    | "maxLifetimeMs"
    | "endTimeoutMs"
    | "allowExitOnIdle"
    | "leakDetectionMs"
    | "reconnectBaseMs"
    | "reconnectMaxMs"
    | "listenPingIntervalMs"
    | "listenPingTimeoutMs"
  > = Object.freeze({
    type: "non-threaded",
    port: 5432,
    user: "postgres",
    ssl: "disable",
    connectTimeoutMs: 10_000,
    queryTimeoutMs: 5000,
    sessionTmpBufferMb: 128,
    applicationName: "pgdbpool",
    autocommit: true,
    reset: "auto",
    pipeline: false,
    targetSessionAttrs: "any",
    retry: 0,
    maxWaiting: Infinity,
    acquireTimeoutMs: 10_000,
    pingAfterIdleMs: 1000,
    pingTimeoutMs: 5000,
    idleTimeoutMs: 600_000,
    maxLifetimeMs: 1_800_000,
    endTimeoutMs: 5000,
    allowExitOnIdle: false,
    leakDetectionMs: 0,
    reconnectBaseMs: 250,
    reconnectMaxMs: 10_000,
    listenPingIntervalMs: 10_000,
    listenPingTimeoutMs: 5000,
  });
