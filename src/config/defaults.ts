/**
 * {@linkcode DEFAULTS}: the one documented constant that fills every optional
 * key of a pool configuration.
 *
 * @module
 */
import type { SslMode } from "../driver.ts";

/**
 * The value of every optional key, in the units of the normalised config
 * (milliseconds, megabytes). The Python module's seconds (`connect_timeout`)
 * are already converted.
 */
export const DEFAULTS: {
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
  /** How long a lease waits for a free connection, in ms. */
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
  /** Report leases held longer than this, in ms; 0: off. */
  readonly leakDetectionMs: number;
  /** First back-off of a failing endpoint, in ms. */
  readonly reconnectBaseMs: number;
  /** Longest back-off of a failing endpoint, in ms. */
  readonly reconnectMaxMs: number;
} = Object.freeze({
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
  acquireTimeoutMs: 10_000,
  pingAfterIdleMs: 1000,
  pingTimeoutMs: 5000,
  idleTimeoutMs: 600_000,
  maxLifetimeMs: 1_800_000,
  endTimeoutMs: 5000,
  leakDetectionMs: 0,
  reconnectBaseMs: 250,
  reconnectMaxMs: 10_000,
});
