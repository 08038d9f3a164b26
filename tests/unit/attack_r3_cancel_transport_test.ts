/**
 * How each adapter's CancelRequest connection ends, against a real listening
 * socket: it sends the 16 bytes and then waits for the server to close, as
 * libpq does. It must not half-close (FIN) first: PgBouncer 1.18.0 frees a
 * cancel client that closes while it still forwards the request, and then
 * exits on `bad client state` when the forward completes, dropping every
 * client it serves (seen with the pool's cancels through PgBouncer).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import pg from "pg";
import { cancelMessage, keyBytes } from "../../src/drivers/shared/cancel_request.ts";
import { sendCancel } from "../../src/drivers/postgresjs/cancel_socket.ts";
import { pgCancel } from "../../src/drivers/node_postgres/cancel.ts";
import type { NodePostgresModule } from "../../src/drivers/node_postgres/types.ts";

/** What the listener saw of one cancel connection before it closed it. */
interface Seen {
  bytes: number[];
  halfClosed: boolean;
}

/** A listener that reads each request, waits `holdMs` like a server still forwarding it, then closes. */
async function listener(holdMs: number) {
  const seen: Seen[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const one: Seen = { bytes: [], halfClosed: false };
    seen.push(one);
    let closing = false;
    socket.on("data", (b: Uint8Array) => one.bytes.push(...b));
    // Only an end before the listener closes is the client's own.
    socket.on("end", () => (one.halfClosed ||= !closing));
    socket.on("error", () => {});
    setTimeout(() => {
      closing = true;
      socket.destroy();
    }, holdMs);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

const transports = [
  [
    "postgres.js",
    (target: Parameters<typeof sendCancel>[0]) =>
      sendCancel(target, false, cancelMessage(12345, keyBytes(-559038737))),
  ],
  ["node-postgres", (target: Parameters<typeof sendCancel>[0]) =>
    pgCancel(
      (pg as unknown as NodePostgresModule).Connection!,
      target,
      false,
      12345,
      -559038737,
    )],
] as const;

describe("a CancelRequest connection", () => {
  for (const [name, send] of transports) {
    it(`${name}: sends the request, then waits for the server to close without closing its side`, async () => {
      const server = await listener(150);
      closers.push(server.close);
      const alive = setInterval(() => {}, 1000);
      try {
        await send({
          host: "127.0.0.1",
          port: server.port,
          ssl: "disable",
          sslRootCert: undefined,
          timeoutMs: 2000,
        });
      } finally {
        clearInterval(alive);
      }
      assert.equal(server.seen.length, 1);
      assert.deepEqual(server.seen[0].bytes, [
        ...cancelMessage(12345, keyBytes(-559038737)),
      ]);
      assert.equal(server.seen[0].halfClosed, false, "the client half-closed before the server");
    });
  }

  it("with a connect timeout past the longest timer (24.8 days), is still sent", async () => {
    const server = await listener(50);
    closers.push(server.close);
    const alive = setInterval(() => {}, 1000);
    try {
      await sendCancel(
        {
          host: "127.0.0.1",
          port: server.port,
          ssl: "disable",
          sslRootCert: undefined,
          timeoutMs: 3e9,
        },
        false,
        cancelMessage(7, keyBytes(7)),
      );
    } finally {
      clearInterval(alive);
    }
    assert.deepEqual(server.seen.map((s) => s.bytes), [[...cancelMessage(7, keyBytes(7))]]);
  });
});
