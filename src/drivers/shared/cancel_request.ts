/**
 * Sending a CancelRequest: a new connection to the session's server that
 * carries the session's backend key and nothing else, so the server stops
 * the query that session is running. As libpq does it since PostgreSQL 17:
 * over TLS when the session used TLS (with the session's checks), else in
 * plaintext; a Unix socket never uses TLS. The password never travels: the
 * key is the proof.
 *
 * Fire and forget: it resolves once the server closed the connection (it
 * read the request), on any failure, or at its deadline, and never rejects.
 * Its socket and timer never hold the process.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { ConnectParams } from "../../driver.ts";
import { nodeTlsOptions, tlsPolicy } from "./tls.ts";

type NetModule = typeof import("node:net");
type NetSocket = import("node:net").Socket;

let netModule: Promise<NetModule> | undefined;
let tlsModule: Promise<typeof import("node:tls")> | undefined;

/** Where and how to reach the server again, taken at connect: no password. */
export interface CancelTarget {
  /** Host name, IP address or Unix socket directory. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** The session's TLS mode and root certificate; `tls` says whether it ended up on TLS. */
  readonly ssl: ConnectParams["ssl"];
  /** PEM CA certificate(s), as the session had them. */
  readonly sslRootCert: string | undefined;
  /** How long the whole request may take, in ms. */
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

// CancelRequest code 80877102; SSLRequest: length 8, code 80877103.
const CANCEL_CODE = [4, 210, 22, 46];
const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);

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
 * A 32-bit secret key (protocol 3.0, as node-postgres reports it) as bytes.
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
 * Sends a CancelRequest for a session.
 *
 * @param target The session's server and TLS settings.
 * @param usedTls Whether the session runs over TLS.
 * @param message From {@linkcode cancelMessage}.
 * @returns When sent, failed or timed out; never rejects.
 */
export async function sendCancel(
  target: CancelTarget,
  usedTls: boolean,
  message: Uint8Array,
): Promise<void> {
  const sockets: NetSocket[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const net = await (netModule ??= import("node:net"));
    const raw = net.connect(
      target.host.startsWith("/")
        ? { path: `${target.host}/.s.PGSQL.${target.port}` }
        : { host: target.host, port: target.port },
    );
    sockets.push(raw);
    raw.unref();
    // Every step below ends by the deadline: a silent server never holds anything.
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(1, target.timeoutMs));
      (timer as { unref?: () => void }).unref?.();
    });
    await Promise.race([deadline, deliver(raw, usedTls, target, net, sockets, message)]);
  } catch {
    // A cancel that could not be sent changes nothing: the session is closed anyway.
  } finally {
    clearTimeout(timer);
    for (const s of sockets) s.destroy();
  }
}

async function deliver(
  raw: NetSocket,
  usedTls: boolean,
  target: CancelTarget,
  net: NetModule,
  sockets: NetSocket[],
  message: Uint8Array,
): Promise<void> {
  const failed = errorOf(raw);
  await Promise.race([failed, new Promise((resolve) => raw.once("connect", resolve))]);
  let s = raw;
  if (usedTls) {
    raw.write(SSL_REQUEST);
    const answer = await Promise.race([failed, firstChunk(raw)]);
    // The session ran over TLS: anything but "S" means the request is not sent in plaintext.
    if (answer.length !== 1 || answer[0] !== 83) return;
    const policy = tlsPolicy(target.ssl, target.sslRootCert, target.host);
    const tls = await (tlsModule ??= import("node:tls"));
    const secure = tls.connect({
      socket: raw,
      host: target.host,
      ...(net.isIP(target.host) === 0 ? { servername: target.host } : {}),
      ...nodeTlsOptions(policy),
    });
    sockets.push(secure);
    secure.unref?.();
    const secureFailed = errorOf(secure);
    await Promise.race([secureFailed, new Promise((r) => secure.once("secureConnect", r))]);
    s = secure;
  }
  // The server reads the request, acts on it and closes without a word.
  const closed = new Promise((resolve) => s.once("close", resolve));
  s.end(message);
  await closed;
}

// Rejects with the socket's first error; later ones are swallowed, never uncaught.
function errorOf(socket: NetSocket): Promise<never> {
  const failed = new Promise<never>((_, reject) => socket.on("error", reject));
  failed.catch(() => {});
  return failed;
}

function firstChunk(socket: NetSocket): Promise<Uint8Array> {
  return new Promise((resolve) => socket.once("data", resolve));
}
