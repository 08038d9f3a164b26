/**
 * A TCP proxy that cuts each connection after a set number of bytes in one
 * direction: for fault matrices that cut a driver's connection at every
 * stage of the handshake and of a query.
 *
 * @module
 */
import net from "node:net";

/** Which direction's bytes are counted. */
export type CutDirection = "toClient" | "toServer";

/** A running cutting proxy. */
export interface CuttingProxy {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Bytes passed so far per direction, over all connections (to size the matrix). */
  readonly passed: Record<CutDirection, number>;
  /** Cut every new connection after `bytes` bytes in `direction`; `undefined` passes everything. */
  cutAfter(direction: CutDirection, bytes: number | undefined): void;
  /** Stall every new connection after `bytes` bytes in `direction`: later bytes are held, the sockets stay open. */
  stallAfter(direction: CutDirection, bytes: number): void;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/**
 * Starts a cutting proxy in front of `host`:`port`, passing everything.
 *
 * @param host The server's host.
 * @param port The server's port.
 * @returns The proxy.
 */
export async function startCuttingProxy(host: string, port: number): Promise<CuttingProxy> {
  const sockets = new Set<net.Socket>();
  const passed: Record<CutDirection, number> = { toClient: 0, toServer: 0 };
  let rule: { direction: CutDirection; bytes: number; stall: boolean } | undefined;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    const current = rule;
    let count = 0;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const pipe = (from: net.Socket, to: net.Socket, direction: CutDirection) => {
      from.on("data", (chunk: Uint8Array) => {
        passed[direction] += chunk.length;
        if (current === undefined || current.direction !== direction) {
          to.write(chunk);
          return;
        }
        const room = current.bytes - count;
        if (room > 0) to.write(chunk.subarray(0, room));
        count += chunk.length;
        if (count >= current.bytes && !current.stall) {
          // Let what was written go out, then cut both sides.
          to.end(() => {
            client.destroy();
            upstream.destroy();
          });
        }
      });
    };
    pipe(upstream, client, "toClient");
    pipe(client, upstream, "toServer");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    passed,
    cutAfter(direction, bytes) {
      rule = bytes === undefined ? undefined : { direction, bytes, stall: false };
    },
    stallAfter(direction, bytes) {
      rule = { direction, bytes, stall: true };
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
