/**
 * A tiny fake PostgreSQL server for crash tests: it answers an SSLRequest
 * with "N", reads the startup message, then plays a script of replies, such
 * as an authentication method no driver supports or a malformed SCRAM
 * challenge. It speaks just enough of the protocol to get a driver to the
 * point where the bad message arrives.
 *
 * @module
 */
import net from "node:net";

/** One step of a script: bytes to send, wait for the client's next message, or hang up. */
export type FakeStep = Uint8Array | "read" | "close";

/** A running fake server. */
export interface FakeServer {
  /** `127.0.0.1`. */
  readonly host: string;
  /** Its port. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/**
 * A backend message: type byte, length, body.
 *
 * @param type The message type, e.g. `"R"`.
 * @param body The body.
 * @returns The framed message.
 */
export function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setUint32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

/**
 * An Authentication message: the code, then `rest`.
 *
 * @param code The authentication code (0 ok, 5 MD5, 7 GSSAPI, 10 SASL, 11 SASL continue…).
 * @param rest What follows the code.
 * @returns The framed message.
 */
export function auth(code: number, rest: Uint8Array | string = new Uint8Array()): Uint8Array {
  const tail = typeof rest === "string" ? new TextEncoder().encode(rest) : rest;
  const body = new Uint8Array(4 + tail.length);
  new DataView(body.buffer).setUint32(0, code);
  body.set(tail, 4);
  return message("R", body);
}

/** SASL with SCRAM-SHA-256 offered: the first message of a SCRAM exchange. */
export const SASL_SCRAM = auth(10, "SCRAM-SHA-256\0\0");

/**
 * Starts a fake server that plays `script` on every connection (after the
 * SSLRequest, if any, and the startup message), then holds the connection
 * open until the client leaves or {@linkcode FakeServer.close}.
 *
 * @param script The replies, with `"read"` where the client speaks next.
 * @returns The server, listening.
 */
export async function startFakeServer(script: readonly FakeStep[]): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  // allowHalfOpen: a client's FIN does not close the server's side (a frozen peer).
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    play(socket, script);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: "127.0.0.1",
    port,
    get accepted() {
      return accepted;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads framed client messages; the first (startup or SSLRequest) has no type byte. */
function play(socket: net.Socket, script: readonly FakeStep[]): void {
  let buffered = new Uint8Array();
  let typed = false;
  let step = 0;
  const waiting: (() => void)[] = [];
  socket.on("data", (chunk: Uint8Array) => {
    const joined = new Uint8Array(buffered.length + chunk.length);
    joined.set(buffered);
    joined.set(chunk, buffered.length);
    buffered = joined;
    for (;;) {
      const offset = typed ? 1 : 0;
      if (buffered.length < offset + 4) return;
      const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(offset);
      if (buffered.length < offset + length) return;
      const isSslRequest = !typed && length === 8 &&
        new DataView(buffered.buffer, buffered.byteOffset).getUint32(4) === 80877103;
      buffered = buffered.slice(offset + length);
      if (isSslRequest) {
        socket.write(new Uint8Array([78])); // "N"
        continue;
      }
      typed = true;
      waiting.shift()?.();
    }
  });
  const next = (): void => {
    while (step < script.length && !socket.destroyed) {
      const s = script[step++];
      if (s === "read") {
        waiting.push(next);
        return;
      }
      if (s === "close") {
        socket.destroy();
        return;
      }
      socket.write(s);
    }
  };
  // The startup message comes first.
  waiting.push(next);
}
