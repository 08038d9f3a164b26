/**
 * The postgres.js adapter's CancelRequest: a new `node:net` connection to
 * the session's server, TLS negotiated as the session's was when it runs over
 * TLS, the request, then the server closes it. The client never closes its
 * side first (as libpq): PgBouncer 1.18.0 frees a cancel client that does
 * while it still forwards the request, then exits on `bad client state`. postgres.js's own
 * `query.cancel()` would reconnect through the session's one-shot socket
 * factory (which refuses) and has no deadline, so the adapter sends it itself.
 *
 * Internal to the postgres.js adapter; not part of the public surface.
 *
 * @module
 */
import { attemptWithin, type CancelTarget, SSL_REQUEST } from "../shared/cancel_request.ts";
import { nodeTlsOptions, tlsPolicy } from "../shared/tls.ts";
import { loadNet, loadTls } from "./socket.ts";

type NetSocket = import("node:net").Socket;

/**
 * Sends a CancelRequest.
 *
 * @param target The session's server and TLS settings.
 * @param usedTls Whether the session runs over TLS.
 * @param message The request (`cancelMessage`).
 * @returns When sent, failed or timed out; never rejects.
 */
export async function sendCancel(
  target: CancelTarget,
  usedTls: boolean,
  message: Uint8Array,
): Promise<void> {
  let net: typeof import("node:net");
  let tls: typeof import("node:tls") | undefined;
  try {
    net = await loadNet();
    if (usedTls) tls = await loadTls();
  } catch {
    return;
  }
  const { host, port } = target;
  await attemptWithin(target.timeoutMs, (done) => {
    const sockets: NetSocket[] = [];
    // Every event ends the attempt; the listeners stay, so a late error is never uncaught.
    const watch = (s: NetSocket) => {
      sockets.push(s);
      s.unref();
      s.on("error", done);
      s.on("close", done);
    };
    const raw = net.connect(
      host.startsWith("/") ? { path: `${host}/.s.PGSQL.${port}` } : { host, port },
    );
    watch(raw);
    raw.once("connect", () => {
      // write, not end: a FIN here would close the request before the server is done with it.
      if (tls === undefined) return void raw.write(message);
      raw.write(SSL_REQUEST);
      raw.once("data", (answer: Uint8Array) => {
        // The session ran over TLS: anything but "S" means no request, never one in plaintext.
        if (answer.length !== 1 || answer[0] !== 83) return done();
        const secure = tls.connect({
          socket: raw,
          host,
          ...(net.isIP(host) === 0 ? { servername: host } : {}),
          ...nodeTlsOptions(tlsPolicy(target.ssl, target.sslRootCert, host)),
        });
        watch(secure);
        secure.once("secureConnect", () => secure.write(message));
      });
    });
    return () => {
      for (const s of sockets) s.destroy();
    };
  });
}
