/**
 * Opening one node-postgres session: the `pg.Client` options for the connect
 * parameters (startup settings, TLS mode, no environment fallbacks), the
 * plaintext retry of `allow`/`prefer`, the deadline, the socket guard, and
 * one `ConnectionError` for every failure.
 *
 * Internal to the node-postgres adapter; not part of the public surface.
 *
 * @module
 */
import type { ConnectParams, DriverConnection } from "../../driver.ts";
import * as sessionStart from "../shared/connect.ts";
import { denialsAsUnset } from "../shared/env_guard.ts";
import { type GuardedSocket, guardSocket } from "../shared/socket_guard.ts";
import { nodeTlsOptions, tlsPolicy } from "../shared/tls.ts";
import { cancelTarget } from "../shared/cancel_request.ts";
import { NodePostgresConnection } from "./connection.ts";
import type { StatementNames } from "./statement_names.ts";
import type { NodePostgresClient, NodePostgresModule } from "./types.ts";

/**
 * Opens one session on `pg`.
 *
 * @param pg The `pg` module.
 * @param params Where and how to connect.
 * @param names Statement names, or `undefined` to leave the protocol to `pg`.
 * @returns The open session.
 * @throws {ConnectionError} When it cannot be opened (`code` holds the SQLSTATE of a refused login).
 */
export async function open(
  pg: NodePostgresModule,
  params: ConnectParams,
  names: StatementNames | undefined,
): Promise<DriverConnection> {
  const label = sessionStart.checkedLabel(params);
  const { application_name, ...rest } = sessionStart.startupSettings(params.settings);
  const options = Object.entries(rest)
    .map(([k, v]) => `-c ${escapeOption(k)}=${escapeOption(v)}`)
    .join(" ");
  const base: Record<string, unknown> = {
    host: params.host,
    port: params.port,
    user: params.user,
    database: params.database,
    // A function, so pg never falls back to PGPASSWORD or ~/.pgpass.
    password: () => params.password ?? "",
    application_name,
    options: options === "" ? undefined : options,
    keepAlive: true,
  };
  const policy = tlsPolicy(params.ssl, params.sslRootCert, params.host);
  // pg sets `servername` (SNI, host-name check) itself when the host is not an IP address.
  const ssl = policy.request ? nodeTlsOptions(policy) : false;
  const attempt = (tls: unknown) => connectOnce(pg, { ...base, ssl: tls }, label, params, names);
  try {
    return await attempt(ssl);
  } catch (err) {
    // allow/prefer: the server has no TLS: go on in plaintext, as libpq does.
    const noTls = /does not support SSL/i.test(String((err as Error)?.message));
    if (!policy.fallback || !noTls) throw sessionStart.connectError(err, label, "node-postgres");
  }
  try {
    return await attempt(false);
  } catch (err) {
    throw sessionStart.connectError(err, label, "node-postgres");
  }
}

async function connectOnce(
  pg: NodePostgresModule,
  config: Record<string, unknown>,
  label: string,
  params: ConnectParams,
  names: StatementNames | undefined,
): Promise<DriverConnection> {
  // pg reads PGBINARY (and more) from the environment whatever the config says.
  const client = await denialsAsUnset((c: Record<string, unknown>) => new pg.Client(c), config);
  sameShapes(client);
  const conn = new NodePostgresConnection(client, label, names, params.onNotice);
  const onNotification = params.onNotification;
  if (onNotification) {
    client.on("notification", (m) => {
      try {
        onNotification({ channel: m.channel, payload: m.payload ?? "", pid: m.processId });
      } catch { /* the callback's own failure: documented as ignored */ }
    });
  }
  // pg parses the server's bytes in its socket handlers, where a throw would
  // be uncaught: guard the socket, and the TLS socket that replaces it.
  const connection = client.connection;
  let reached = false;
  const answered = () => (reached = true);
  if (connection?.stream !== undefined) {
    // With TLS asked for, this socket carries the handshake, then TLS records.
    guardSocket(connection.stream as GuardedSocket, label, answered, config.ssl === false);
  }
  connection?.on("sslconnect", () => {
    guardSocket(connection.stream as GuardedSocket, label, answered);
  });
  // Accepted on the server's port, then a failure without a code before a single
  // byte came back: the connection was cut ("Connection terminated unexpectedly",
  // a backend killed as it starts), coded as postgres.js codes it, not an outage.
  // A refusal (a server without TLS, say) sends a byte first. The client speaks
  // first, so pg's own data listener is in place before any byte arrives.
  let accepted = false;
  let heard = false;
  const stream = connection?.stream as
    | { once?(event: string, f: () => void): unknown }
    | undefined;
  stream?.once?.("connect", () => (accepted = true));
  stream?.once?.("data", () => (heard = true));
  try {
    await sessionStart.withConnectTimeout(client.connect(), params.connectTimeoutMs, label, () => {
      conn.lost(undefined);
    }, params.signal);
  } catch (err) {
    conn.lost(err);
    const cut = accepted && !heard && typeof (err as { code?: unknown } | null)?.code !== "string";
    throw sessionStart.connectError(cut ? closedError(err) : err, label, "node-postgres", reached);
  }
  conn.keyFrom(pg, cancelTarget(params), config.ssl !== false);
  return conn;
}

// pg's error for a connection that ended, with the code postgres.js gives it.
function closedError(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(message, { cause: err }), { code: "CONNECTION_CLOSED" });
}

// interval, point and numeric[] come back as every adapter gives them: the
// server's text (pg would make an interval object, a point {x, y} and
// numeric[] elements floats, losing precision).
const AS_TEXT = [1186, 600];
const ARRAYS_OF_TEXT = [1187, 1017, 1231];
const TEXT_ARRAY = 1009;

function sameShapes(client: NodePostgresClient): void {
  if (client.setTypeParser === undefined || client.getTypeParser === undefined) return;
  const textArray = client.getTypeParser(TEXT_ARRAY, "text");
  for (const oid of AS_TEXT) client.setTypeParser(oid, "text", asText);
  for (const oid of ARRAYS_OF_TEXT) client.setTypeParser(oid, "text", textArray);
}

function asText(text: string): string {
  return text;
}

/** `options` startup value escaping: backslash before spaces and backslashes. */
function escapeOption(s: string): string {
  return s.replace(/[\\ ]/g, (c) => `\\${c}`);
}
