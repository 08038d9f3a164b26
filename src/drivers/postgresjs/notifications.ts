/**
 * Notifications on a postgres.js session, with the sender's pid: postgres.js's
 * own `onnotify` drops the pid, so the adapter reads NotificationResponse
 * messages (`A`) off the session's socket itself, beside postgres.js. The
 * socket carries plaintext protocol messages from the first byte (TLS, when
 * on, is set up below it), each a type byte and a 32-bit length.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
 *
 * @module
 */
import type { DriverNotification } from "../../driver.ts";
import { frameReader } from "../shared/message_frames.ts";

const NOTIFICATION = 0x41; // "A"
const decoder = new TextDecoder();

/** A socket's data events, as node:net gives them. */
export interface DataSource {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
}

/**
 * Reads every NotificationResponse the socket carries and hands it on.
 *
 * @param socket The session's socket, before any byte was read.
 * @param deliver Receives each notification; a throw is ignored.
 */
export function watchNotifications(
  socket: DataSource,
  deliver: (n: DriverNotification) => void,
): void {
  const read = frameReader({
    pick: (type, length) => type === NOTIFICATION && length > 4,
    take: (_, body) => emit(body, deliver),
  });
  socket.on("data", (chunk) => void read(chunk));
}

// Int32 pid, then the channel and the payload, each NUL-terminated.
function emit(body: Uint8Array, deliver: (n: DriverNotification) => void): void {
  const pid = new DataView(body.buffer, body.byteOffset).getInt32(0);
  const channelEnd = body.indexOf(0, 4);
  if (channelEnd < 0) return;
  const payloadEnd = body.indexOf(0, channelEnd + 1);
  const channel = decoder.decode(body.subarray(4, channelEnd));
  const payload = decoder.decode(
    body.subarray(channelEnd + 1, payloadEnd < 0 ? body.length : payloadEnd),
  );
  try {
    deliver({ channel, payload, pid });
  } catch { /* the callback's own failure: documented as ignored */ }
}
