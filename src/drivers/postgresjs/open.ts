/**
 * Opening one postgres.js session: a `max: 1` instance over the adapter's
 * one-shot socket, every option fixed so the environment cannot change it,
 * the array types fetched by the adapter (never by postgres.js, whose own
 * fetch can escape as an unhandled rejection), the deadline, and one
 * `ConnectionError` for every failure.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
 *
 * @module
 */
import type { ConnectParams, DriverConnection } from "../../driver.ts";
import * as sessionStart from "../shared/connect.ts";
import { denialsAsUnset } from "../shared/env_guard.ts";
import { noticeForwarder } from "../shared/notice.ts";
import { type KeySource, SessionCanceller } from "../shared/backend_key.ts";
import { cancelTarget } from "../shared/cancel_request.ts";
import { type ArrayTypes, installValueShapes } from "./array_types.ts";
import { PostgresjsConnection } from "./connection.ts";
import { discardCopyStream, isRows } from "./copy_stream.ts";
import { PostgresjsSocket } from "./socket.ts";
import { sendCancel } from "./cancel_socket.ts";
import type { PostgresjsFactory } from "./types.ts";
import { type DataSource, watchNotifications } from "./notifications.ts";

// postgres.js keeps the backend key to itself: it is read off the socket during the startup.
// A session opened for `pool.listen` reads its notifications off the socket too.
function watched<S>(
  socket: Promise<S>,
  params: ConnectParams,
  canceller: SessionCanceller,
  tls: () => boolean,
): Promise<S> {
  const deliver = params.onNotification;
  return socket.then((s) => {
    canceller.watch(s as unknown as KeySource, tls());
    if (deliver) watchNotifications(s as DataSource, deliver);
    return s;
  });
}

/**
 * Opens one session.
 *
 * @param postgres postgres.js's default export.
 * @param params Where and how to connect.
 * @param prepare Named prepared statements on or off.
 * @param types The driver's array types, or `undefined` not to fetch them.
 * @returns The open session.
 * @throws {ConnectionError} When it cannot be opened (`code` holds the SQLSTATE of a refused login).
 */
export async function open(
  postgres: PostgresjsFactory,
  params: ConnectParams,
  prepare: boolean,
  types: ArrayTypes | undefined,
): Promise<DriverConnection> {
  const label = sessionStart.checkedLabel(params);
  const sockets = await PostgresjsSocket.load(params, label);
  const password = params.password ?? "";
  const canceller = new SessionCanceller(cancelTarget(params), sendCancel);
  const conn = new PostgresjsConnection(prepare, label, () => sockets.current, canceller);
  // postgres.js reads PGAPPNAME (and more) from the environment whatever the options say.
  const sql = await denialsAsUnset(postgres, {
    host: params.host,
    port: params.port,
    user: params.user,
    database: params.database,
    pass: () => password,
    max: 1,
    max_lifetime: 0,
    idle_timeout: 0,
    connect_timeout: 0,
    fetch_types: false,
    prepare,
    ssl: false,
    connection: sessionStart.startupSettings(params.settings),
    onnotice: noticeForwarder(params.onNotice),
    onclose: () => conn.lost(undefined),
    socket: () => watched(sockets.open(), params, canceller, () => sockets.tls),
    transform: { undefined: null },
    target_session_attrs: undefined,
    sslnegotiation: null,
    keep_alive: 60,
    backoff: () => 0,
    max_pipeline: 100,
    debug: false,
    publications: "alltables",
    no_subscribe: true,
  });
  conn.attach(sql);
  installValueShapes(sql);
  // An empty simple query: one round trip that proves the session is up
  // without touching a table; the session that fetches the array types
  // proves it with that query instead. All on the same deadline.
  const probe = async () => {
    const reply: unknown = await sql.unsafe("", [], { simple: true });
    if (!isRows(reply)) throw discardCopyStream(reply);
  };
  const ready = types === undefined ? probe() : types.ready(sql, probe);
  try {
    await sessionStart.withConnectTimeout(
      ready,
      params.connectTimeoutMs,
      label,
      () => {
        sockets.refuse();
        conn.lost(undefined);
      },
      params.signal,
    );
  } catch (err) {
    conn.lost(err);
    throw sessionStart.connectError(err, label, "postgres.js", sockets.reached);
  }
  sockets.markEstablished();
  return conn;
}
