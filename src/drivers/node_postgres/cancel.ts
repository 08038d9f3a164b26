/**
 * The node-postgres adapter's CancelRequest, through pg's own protocol
 * `Connection` (its `cancel(processID, secretKey)`), with what pg's
 * `Client.cancel` lacks: a deadline, TLS when the session runs over TLS (the
 * session's TLS options), and a socket that never holds the process.
 *
 * Internal to the node-postgres adapter; not part of the public surface.
 *
 * @module
 */
import { attemptWithin, type CancelTarget } from "../shared/cancel_request.ts";
import { nodeTlsOptions, tlsPolicy } from "../shared/tls.ts";
import type { NodePostgresModule } from "./types.ts";

/**
 * Sends a CancelRequest for a pg session.
 *
 * @param Connection `pg.Connection`.
 * @param target The session's server and TLS settings.
 * @param usedTls Whether the session runs over TLS.
 * @param processID The session's backend process id.
 * @param secretKey Its secret key.
 * @returns When sent, failed or timed out; never rejects.
 */
export function pgCancel(
  Connection: NonNullable<NodePostgresModule["Connection"]>,
  target: CancelTarget,
  usedTls: boolean,
  processID: number,
  secretKey: number,
): Promise<void> {
  const { host, port } = target;
  return attemptWithin(target.timeoutMs, (done) => {
    const policy = tlsPolicy(target.ssl, target.sslRootCert, host);
    const con = new Connection({ ssl: usedTls ? nodeTlsOptions(policy) : false });
    // pg emits `error` as an event: without a listener it would be thrown.
    con.on("error", done);
    con.on("end", done);
    const send = () => {
      con.stream.unref?.();
      con.cancel(processID, secretKey);
    };
    if (usedTls) {
      con.on("connect", () => con.requestSsl());
      con.on("sslconnect", send);
    } else con.on("connect", send);
    if (host.startsWith("/")) con.connect(`${host}/.s.PGSQL.${port}`);
    else con.connect(port, host);
    con.stream.unref?.();
    return () => con.stream.destroy();
  });
}
