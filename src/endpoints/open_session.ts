/**
 * One connect attempt to one endpoint: the driver's connect, the outcome
 * counted in the endpoint's health, and the role learned (from the session's
 * parameters, else with one query when a group needs it).
 *
 * @module
 */
import { redactCredentials } from "../redact.ts";
import { ConnectionError } from "../errors.ts";
import type { Clock } from "../core/clock.ts";
import type { ConnectParams, Driver, DriverConnection, DriverNotice } from "../driver.ts";
import { describeEndpoint, type EndpointConfig } from "../config/normalize.ts";
import { isPassFailure, passwordFor } from "./password.ts";
import {
  type BackoffOptions,
  classifyConnectFailure,
  type ConnectFailure,
  Health,
} from "./health.ts";
import { learnRole, type ServerRole } from "./roles.ts";
import { markTransactionPooled, startupRefusal } from "./transaction_pooler.ts";

/** One endpoint as the set keeps it. */
export interface EndpointState {
  /** Its configuration (no password); replaced when `pool.setEndpoints()` brings a new password. */
  config: EndpointConfig;
  /** Removed by `pool.setEndpoints()`: no new sessions; its sessions retire. */
  removed: boolean;
  /** `host:port`. */
  readonly label: string;
  /** Startup parameters of its sessions. */
  readonly settings: Readonly<Record<string, string>>;
  /** Back-off. */
  readonly health: Health;
  /** Open sessions, over all groups. */
  connections: number;
}

/** What a session is opened with beyond its endpoint's settings (the listen session's notifications). */
export type ConnectExtra = Pick<ConnectParams, "onNotification">;

/** What an attempt needs from the pool. */
export interface AttemptContext {
  /** Opens sessions. */
  readonly driver: Driver;
  /** The clock. */
  readonly clock: Clock;
  /** Back-off settings. */
  readonly backoff: BackoffOptions;
  /** Receives every session's notices. */
  readonly onNotice?: (notice: DriverNotice) => void;
  /** Aborted when the pool ends: connects in flight then serve nobody. */
  readonly ended?: AbortSignal;
}

/** Options of an `EndpointSet` (endpoint_set.ts): what its attempts need, and whom to tell of health. */
export interface EndpointSetOptions {
  /** Opens sessions. */
  driver: Driver;
  /** The clock. */
  clock: Clock;
  /** First back-off, in ms. */
  reconnectBaseMs: number;
  /** Longest back-off, in ms. */
  reconnectMaxMs: number;
  /** Receives every session's notices. */
  onNotice?: (notice: DriverNotice) => void;
  /** Told when an endpoint goes down (with the redacted error) and when it comes back. */
  onHealth?: (endpoint: string, up: boolean, error: string | undefined) => void;
}

/** One attempt's outcome: a session (and its role, if learned), or why there is none. */
export type Attempt =
  | {
    readonly connection: DriverConnection;
    readonly role: ServerRole | undefined;
    readonly error?: undefined;
  }
  | {
    readonly connection?: undefined;
    readonly error: unknown;
    readonly kind: ConnectFailure;
    /** This failure backed the endpoint off (one per attempt window). */
    readonly backedOff: boolean;
  };

/**
 * The state of an endpoint that was never tried.
 *
 * @param config The endpoint.
 * @returns Its state: up, no sessions.
 */
export function endpointState(config: EndpointConfig): EndpointState {
  return {
    config,
    label: describeEndpoint(config),
    // A transaction-mode pooler refuses startup parameters it does not know.
    settings: Object.freeze<Record<string, string>>(
      config.poolMode === "transaction" ? { application_name: config.applicationName } : {
        application_name: config.applicationName,
        statement_timeout: String(config.queryTimeoutMs),
        temp_buffers: `${config.sessionTmpBufferMb}MB`,
      },
    ),
    health: new Health(config.connectTimeoutMs),
    connections: 0,
    removed: false,
  };
}

/**
 * Opens one session on an endpoint, counting the outcome in its health.
 *
 * @param s The endpoint.
 * @param ctx Driver, clock, back-off.
 * @param learn Learn the role with a query when the session does not report it.
 * @returns The session and its role, or the failure and its kind. Never rejects.
 */
export async function openSession(
  s: EndpointState,
  ctx: AttemptContext,
  learn: boolean,
  extra?: ConnectExtra,
): Promise<Attempt> {
  const ticket = s.health.begin(ctx.clock.now());
  let connection: DriverConnection;
  try {
    // Only a pass function costs an await: a plain password keeps the connect's timing.
    let password = passwordFor(s.config, s.label, ctx.clock);
    if (password instanceof Promise) password = await password;
    connection = await ctx.driver.connect({
      ...connectParams(s, password),
      onNotice: ctx.onNotice,
      signal: ctx.ended,
      ...extra,
    });
  } catch (thrown) {
    // Aborted by end(): says nothing of the endpoint (other isolates share its health).
    if (ctx.ended?.aborted) return { error: thrown, kind: "outage", backedOff: false };
    // A pooler that refuses the startup settings refuses every try: a login refusal, with advice.
    const refused = startupRefusal(thrown, s.label);
    const error = refused ?? thrown;
    // A failed pass function says nothing of the server: refused at once, like a login.
    const kind = isPassFailure(error) || refused ? "login" : classifyConnectFailure(error);
    const message = redactCredentials(errorMessage(error));
    const backedOff = s.health.failed(ticket, kind, ctx.clock.now(), ctx.backoff, message);
    return { error, kind, backedOff };
  }
  s.health.succeeded(ticket);
  s.connections++;
  if (s.config.poolMode === "transaction") markTransactionPooled(connection);
  if (!learn && connection.parameters?.in_hot_standby === undefined) {
    return { connection, role: undefined };
  }
  let timer: unknown;
  let onEnd: (() => void) | undefined;
  const ended = ctx.ended;
  try {
    // Bounded like the connect: a server that went silent after the handshake holds nobody.
    // And cut by end(): the session then serves nobody, and nobody should wait for it.
    const ms = s.config.connectTimeoutMs;
    const role = await new Promise<ServerRole>((resolve, reject) => {
      learnRole(connection).then(resolve, reject);
      if (ms > 0 && ms <= MAX_TIMER_MS) {
        timer = ctx.clock.setTimeout(() => reject(roleTimeout(s)), ms);
      }
      if (ended === undefined) return;
      onEnd = () => reject(roleAborted(s));
      if (ended.aborted) onEnd();
      else ended.addEventListener("abort", onEnd, { once: true });
    });
    return { connection, role };
  } catch (error) {
    s.connections--;
    connection.close().catch(() => {});
    // Cut by end(): says nothing of the endpoint (other isolates share its health).
    if (ended?.aborted) return { error, kind: "outage", backedOff: false };
    if (!(error instanceof RoleTimeout)) {
      // The session died before its role was known: a cut handshake.
      return { error, kind: "handshake", backedOff: false };
    }
    // The connect counted as a success: the silence counts in a window of its own.
    const now = ctx.clock.now();
    const h = s.health;
    const backedOff = h.failed(h.begin(now), "outage", now, ctx.backoff, error.message);
    return { error, kind: "outage", backedOff };
  } finally {
    if (timer !== undefined) ctx.clock.clearTimeout(timer);
    if (onEnd !== undefined) ended?.removeEventListener("abort", onEnd);
  }
}

// Longer than a timer can wait: no deadline (as the adapters do for the connect).
const MAX_TIMER_MS = 2 ** 31 - 1;

// The role query got no answer within connect_timeout.
class RoleTimeout extends ConnectionError {}

function roleTimeout(s: EndpointState): RoleTimeout {
  const ms = s.config.connectTimeoutMs;
  return new RoleTimeout(
    `Cannot connect to ${s.label}: no answer to the role query within ${ms} ms`,
    s.label,
    { code: "CONNECT_TIMEOUT", reached: true },
  );
}

// The pool ended while the role query was out.
function roleAborted(s: EndpointState): ConnectionError {
  return new ConnectionError(
    `Cannot connect to ${s.label}: the connect was aborted during the role query (the pool ended)`,
    s.label,
    { code: "CONNECT_ABORTED" },
  );
}

function connectParams(s: EndpointState, password: string | undefined) {
  const e = s.config;
  return {
    host: e.host,
    port: e.port,
    database: e.database,
    user: e.user,
    password,
    ssl: e.ssl,
    sslRootCert: e.sslRootCert,
    connectTimeoutMs: e.connectTimeoutMs,
    settings: s.settings,
    namedStatements: e.poolMode !== "transaction",
  };
}

function errorMessage(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e?.message === "string" ? e.message : String(err);
  return typeof e?.code === "string" && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}
