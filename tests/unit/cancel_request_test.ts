/**
 * The CancelRequest bytes, and the backend key read off a session's startup
 * messages however the socket splits them; a cancel to a port where nothing
 * listens settles (never rejects) and sends nothing without a key.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type KeySource, SessionCanceller } from "../../src/drivers/shared/backend_key.ts";
import { cancelMessage, keyBytes } from "../../src/drivers/shared/cancel_request.ts";
import { sendCancel } from "../../src/drivers/postgresjs/cancel_socket.ts";
import { freePort } from "../../src/testing/ports.ts";

/** A protocol message: type byte, length, body. */
function message(type: string, body: number[]): number[] {
  const length = body.length + 4;
  return [
    type.charCodeAt(0),
    length >>> 24,
    (length >>> 16) & 255,
    (length >>> 8) & 255,
    length & 255,
    ...body,
  ];
}

/** A data source that hands `bytes` over in chunks of `size`, and says whether it is still listened to. */
function feed(
  bytes: number[],
  size: number,
): { source: KeySource; listening: () => boolean; run(): void } {
  let listener: ((chunk: Uint8Array) => void) | undefined;
  const source: KeySource = {
    on: (_event, fn) => (listener = fn),
    off: (_event, fn) => {
      if (listener === fn) listener = undefined;
    },
  };
  return {
    source,
    listening: () => listener !== undefined,
    run() {
      for (let i = 0; i < bytes.length && listener !== undefined; i += size) {
        listener(new Uint8Array(bytes.slice(i, i + size)));
      }
    },
  };
}

/** Awaits `p` with a timer that keeps the event loop alive: a cancel's own socket and timer never do. */
async function held(p: Promise<void>): Promise<void> {
  const alive = setInterval(() => {}, 1000);
  try {
    await p;
  } finally {
    clearInterval(alive);
  }
}

const target = {
  host: "127.0.0.1",
  port: 1,
  ssl: "disable" as const,
  sslRootCert: undefined,
  timeoutMs: 500,
};

describe("CancelRequest", () => {
  it("is length 16, code 80877102, the pid and the 4-byte key", () => {
    assert.deepEqual(
      [...cancelMessage(0x01020304, keyBytes(-2))],
      [0, 0, 0, 16, 4, 210, 22, 46, 1, 2, 3, 4, 255, 255, 255, 254],
    );
  });

  it("carries a longer key (protocol 3.2) as given", () => {
    const key = new Uint8Array(32).fill(7);
    const out = cancelMessage(9, key);
    assert.equal(out.length, 44);
    assert.deepEqual([...out.subarray(0, 4)], [0, 0, 0, 44]);
    assert.deepEqual([...out.subarray(12)], [...key]);
  });

  for (const size of [1, 2, 3, 5, 7, 1000]) {
    it(`takes the key from the startup messages split every ${size} bytes, then stops listening`, () => {
      const startup = [
        ...message("R", [0, 0, 0, 0]),
        ...message("S", [...new TextEncoder().encode("server_version\u000018\u0000")]),
        ...message("K", [0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef]),
        ...message("Z", [0x49]),
      ];
      const canceller = new SessionCanceller(target, sendCancel);
      const socket = feed(startup, size);
      let sent: Uint8Array | undefined;
      const spy = canceller as unknown as { keyed: SessionCanceller["keyed"] };
      const keyed = spy.keyed.bind(canceller);
      spy.keyed = (pid, key, tls) => {
        sent = cancelMessage(pid, key);
        keyed(pid, key, tls);
      };
      canceller.watch(socket.source, false);
      socket.run();
      assert.deepEqual([...(sent ?? [])], [
        0,
        0,
        0,
        16,
        4,
        210,
        22,
        46,
        0,
        0,
        0x30,
        0x39,
        0xde,
        0xad,
        0xbe,
        0xef,
      ]);
      assert.equal(socket.listening(), false);
    });
  }

  it("stops listening at ReadyForQuery or an error when no key came", () => {
    for (const type of ["Z", "E"]) {
      const socket = feed([...message("R", [0, 0, 0, 0]), ...message(type, [0x49]), 1, 2, 3], 4);
      new SessionCanceller(target, sendCancel).watch(socket.source, false);
      socket.run();
      assert.equal(socket.listening(), false);
    }
  });

  it("without a key sends nothing; to a closed port it settles", async () => {
    await new SessionCanceller(target, sendCancel).send();
    const port = await freePort();
    const canceller = new SessionCanceller({ ...target, port }, sendCancel);
    canceller.keyed(1, keyBytes(1), false);
    await held(canceller.send());
    await held(sendCancel({ ...target, port }, true, cancelMessage(1, keyBytes(1))));
  });
});
