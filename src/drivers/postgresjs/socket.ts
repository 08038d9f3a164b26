/**
 * The socket factory of the postgres.js adapter: opens the one TCP (or Unix)
 * socket a postgres.js instance may ever use, negotiates TLS on it (the
 * SSLRequest, then `tls.connect` with options for the libpq `ssl` mode), and
 * refuses every later call, which is how postgres.js asks to reconnect.
 *
 * `node:net` and `node:tls` are loaded on the first connect, not at import,
 * so importing the adapter stays free.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
 *
 * @module
 */
import type { ConnectParams, SslMode } from "../../driver.ts";
import { type GuardedSocket, guardSocket } from "../shared/socket_guard.ts";
import { nodeTlsOptions, type TlsPolicy, tlsPolicy } from "../shared/tls.ts";

type NetModule = typeof import("node:net");
type NetSocket = import("node:net").Socket;
type TlsModule = typeof import("node:tls");

let netModule: Promise<NetModule> | undefined;
let tlsModule: Promise<TlsModule> | undefined;

/**
 * `node:net`, loaded on first use, not at import: importing this module stays free.
 *
 * @returns The module.
 */
export function loadNet(): Promise<NetModule> {
  return netModule ??= import("node:net");
}

/**
 * `node:tls`, loaded on first use.
 *
 * @returns The module.
 */
export function loadTls(): Promise<TlsModule> {
  return tlsModule ??= import("node:tls");
}

/**
 * The one socket of one postgres.js instance. {@linkcode PostgresjsSocket.open}
 * is postgres.js's `socket` option: the first call connects (TLS negotiated as
 * `params.ssl` says; never over a Unix socket, as in libpq), every later call
 * throws an error coded `CONNECTION_CLOSED`, because postgres.js only asks
 * again to reconnect, and a pgdbpool connection never reconnects.
 */
export class PostgresjsSocket {
  readonly #params: ConnectParams;
  readonly #label: string;
  readonly #net: NetModule;
  // The one socket this instance may ever use: open() refuses a second.
  #socket: NetSocket | undefined;
  #established = false;
  #reached = false;
  #refused = false;
  #tls = false;

  private constructor(params: ConnectParams, label: string, net: NetModule) {
    this.#params = params;
    this.#label = label;
    this.#net = net;
  }

  /**
   * Loads `node:net` (once per process) and builds the factory.
   *
   * @param params Where to connect and with which `ssl` mode.
   * @param label `host:port`, for messages.
   * @returns A factory that has not opened anything yet.
   */
  static async load(params: ConnectParams, label: string): Promise<PostgresjsSocket> {
    return new PostgresjsSocket(params, label, await loadNet());
  }

  /** The socket opened so far (possibly still connecting), or `undefined` before the first {@linkcode PostgresjsSocket.open}. */
  get current(): NetSocket | undefined {
    return this.#socket;
  }

  /** Whether the server answered the startup (it speaks PostgreSQL; TLS, if any, is up). */
  get reached(): boolean {
    return this.#reached;
  }

  /** Whether the socket runs over TLS (a CancelRequest for the session then does too). */
  get tls(): boolean {
    return this.#tls;
  }

  /** Records that the session is up, for the message a later {@linkcode PostgresjsSocket.open} throws. */
  markEstablished(): void {
    this.#established = true;
  }

  /**
   * Gives up on the session: destroys the socket opened so far, and refuses
   * to open one later (postgres.js may not have asked yet when a connect is
   * abandoned, and a socket opened then would outlive everything).
   */
  refuse(): void {
    this.#refused = true;
    this.#socket?.destroy();
  }

  /**
   * Opens the socket: connects, sets `TCP_NODELAY`, negotiates TLS.
   *
   * @returns The ready socket (a TLS socket when TLS is used).
   * @throws {Error} Coded `CONNECTION_CLOSED`, synchronously, on every call after the first or after {@linkcode PostgresjsSocket.refuse}.
   */
  open(): Promise<NetSocket> {
    const params = this.#params;
    const label = this.#label;
    if (this.#socket !== undefined || this.#refused) {
      // postgres.js wants a new socket: it is reconnecting (never), or the connect was abandoned.
      throw Object.assign(
        new Error(
          this.#established
            ? `The session to ${label} has ended; a pgdbpool connection never reconnects`
            : `The connection to ${label} closed before the session was established`,
        ),
        { code: "CONNECTION_CLOSED" },
      );
    }
    const viaSocketFile = params.host.startsWith("/");
    const net = this.#net;
    const raw = net.connect(
      viaSocketFile
        ? { path: `${params.host}/.s.PGSQL.${params.port}` }
        : { host: params.host, port: params.port },
    );
    this.#socket = raw;
    const policy = tlsPolicy(params.ssl, params.sslRootCert, params.host);
    return connected(raw).then(async (s) => {
      s.setNoDelay(true);
      const ready = policy.request ? await startTls(s, policy, params, label, net) : s;
      this.#tls = ready !== s;
      // postgres.js parses in its `data` handler: no throw of it may escape.
      guardSocket(ready as unknown as GuardedSocket, label, () => (this.#reached = true));
      return ready;
    });
  }
}

function connected(socket: NetSocket): Promise<NetSocket> {
  return new Promise<NetSocket>((resolve, reject) => {
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

// SSLRequest: length 8, code 80877103.
const SSL_REQUEST = new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]);

/**
 * Asks the server for TLS and, when it agrees, wraps the socket. Done here
 * rather than by postgres.js so that every mode behaves as documented and a
 * server without TLS gets a clear error.
 */
async function startTls(
  raw: NetSocket,
  policy: TlsPolicy,
  params: ConnectParams,
  label: string,
  net: NetModule,
): Promise<NetSocket> {
  const mode = params.ssl;
  raw.write(SSL_REQUEST);
  const answer = await new Promise<Uint8Array>((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      done();
      resolve(chunk);
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(tlsError(`${label} closed the connection when asked for TLS`, mode, "TLS_FAILED"));
    };
    const done = () => {
      raw.off("data", onData);
      raw.off("error", onError);
      raw.off("close", onClose);
    };
    raw.once("data", onData);
    raw.once("error", onError);
    raw.once("close", onClose);
  });
  // The server answers one byte and waits: anything more was not sent by it
  // (bytes injected ahead of the handshake must never pass as protected).
  if (answer.length !== 1 || (answer[0] !== 83 && answer[0] !== 78)) {
    raw.destroy();
    throw tlsError(`${label} answered the TLS request with unexpected data`, mode, "TLS_FAILED");
  }
  // "N": this server has no TLS.
  if (answer[0] === 78) {
    if (policy.fallback) return raw;
    raw.destroy();
    throw tlsError(`${label} does not support TLS`, mode, "TLS_NOT_AVAILABLE");
  }
  const tls = await loadTls();
  // `host` is what the certificate is checked against; `servername` (SNI)
  // must not be an IP address.
  const secure = tls.connect({
    socket: raw,
    host: params.host,
    ...(net.isIP(params.host) === 0 ? { servername: params.host } : {}),
    ...nodeTlsOptions(policy),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      secure.off("secureConnect", onSecure);
      reject(err);
    };
    const onSecure = () => {
      secure.off("error", onError);
      resolve();
    };
    secure.once("error", onError);
    secure.once("secureConnect", onSecure);
  });
  return secure;
}

function tlsError(message: string, mode: SslMode, code: string): Error {
  return Object.assign(new Error(`Cannot connect with ssl=${mode}: ${message}`), { code });
}
