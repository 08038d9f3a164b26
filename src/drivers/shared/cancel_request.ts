/**
 * What every adapter's CancelRequest shares: the message (the session's
 * backend key and nothing else: the password never travels), where to send
 * it, and the deadline. Each adapter opens the connection its own way, over
 * TLS when the session runs over TLS (as libpq does since PostgreSQL 17),
 * else in plaintext.
 *
 * Fire and forget: an attempt settles once the server closed the connection
 * (it read the request), on any failure, or at its deadline, and never
 * rejects. Its timer never holds the process; the adapters unref their
 * sockets.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { ConnectParams } from "../../driver.ts";

/** Where and how to reach the server again, taken at connect: no password. */
export interface CancelTarget {
  /** Host name, IP address or Unix socket directory. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** The session's TLS mode. */
  readonly ssl: ConnectParams["ssl"];
  /** PEM CA certificate(s), as the session had them. */
  readonly sslRootCert: string | undefined;
  /** How long the whole request may take, in ms (the connect timeout). */
  readonly timeoutMs: number;
}

/**
 * The part of {@linkcode ConnectParams} a cancel needs (the password is left behind).
 *
 * @param params The session's connect parameters.
 * @returns The target.
 */
export function cancelTarget(params: ConnectParams): CancelTarget {
  const { host, port, ssl, sslRootCert, connectTimeoutMs } = params;
  return { host, port, ssl, sslRootCert, timeoutMs: connectTimeoutMs };
}

// CancelRequest code 80877102.
const CANCEL_CODE = [4, 210, 22, 46];

/** SSLRequest: length 8, code 80877103. */
export const SSL_REQUEST: Uint8Array = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);

/**
 * The CancelRequest message: length, code, process id, then the secret key
 * (4 bytes in protocol 3.0; longer ones, as protocol 3.2 allows, as given).
 *
 * @param pid The backend's process id.
 * @param key The secret key's bytes.
 * @returns The message.
 */
export function cancelMessage(pid: number, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + key.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, out.length);
  out.set(CANCEL_CODE, 4);
  view.setInt32(8, pid);
  out.set(key, 12);
  return out;
}

/**
 * A 32-bit secret key (protocol 3.0) as bytes.
 *
 * @param key The key as a signed or unsigned 32-bit number.
 * @returns Its 4 bytes, big-endian.
 */
export function keyBytes(key: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, key | 0);
  return out;
}

/**
 * Runs one cancel attempt with a deadline.
 *
 * @param timeoutMs The deadline.
 * @param start Opens the connection and sends the request; calls `done` once the server closed it
 *   or it failed; returns what tears it down (called once, at `done` or at the deadline).
 * @returns When done or timed out; never rejects.
 */
export function attemptWithin(
  timeoutMs: number,
  start: (done: () => void) => () => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let teardown: (() => void) | undefined;
    let over = false;
    const finish = () => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      resolve();
      try {
        teardown?.();
      } catch { /* already gone */ }
    };
    // Clamped: a longer delay overflows the timer, which then fires at once.
    const timer = setTimeout(finish, Math.min(Math.max(1, timeoutMs), 2_147_483_647));
    (timer as { unref?: () => void }).unref?.();
    try {
      teardown = start(finish);
    } catch {
      return finish();
    }
    // `start` failed at once: its teardown was not known yet when it called done.
    if (over) {
      try {
        teardown();
      } catch { /* already gone */ }
    }
  });
}

/**
 * How long a session's close waits for its CancelRequest to go through: a
 * pooler forwards the request only while its client is there. A cancel takes
 * a connect and a round trip (10-30 ms through a local PgBouncer); one to a
 * server that stopped answering never ends, and `pool.end()` waits this long.
 */
export const CANCEL_GRACE_MS = 1000;

/**
 * @param cancel A cancel in flight; never rejects.
 * @returns Once it settled, or after {@linkcode CANCEL_GRACE_MS} (a timer that never holds the process).
 */
export function cancelGrace(cancel: Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CANCEL_GRACE_MS);
    (timer as { unref?: () => void }).unref?.();
    cancel.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
