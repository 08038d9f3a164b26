/**
 * The CancelRequest's TLS, as libpq sends it: over TLS when the session runs
 * over TLS (`verify-full` here, against a real server with TLS), in plaintext
 * when it does not. A small forwarder in front of the server records how
 * each connection begins; the backend is gone either way.
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createPool, type Driver, type Pool, type SslMode } from "../../mod.ts";
import { adminQuery, startPrivateServer, tlsUnavailable } from "../support/servers.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";

const noTls = tlsUnavailable();
const server = noTls === undefined ? await startPrivateServer({ tls: true }) : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Each test skips itself without TLS: Bun leaves a skipped describe out of its report.
const skip = noTls ?? false;

const SSL_REQUEST = "0000000804d2162f";
const CANCEL_REQUEST = "0000001004d2162e";

/** A forwarder to the server that records the first 8 bytes of each connection (hex). */
function forwarder(): Promise<{ port: number; firsts: string[]; close(): Promise<void> }> {
  const firsts: string[] = [];
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((client) => {
    const upstream = net.connect({ host: server!.host, port: server!.port });
    sockets.add(client).add(upstream);
    let head = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      if (head.length < 8) {
        head = Buffer.concat([head, chunk]);
        if (head.length >= 8) firsts.push(head.subarray(0, 8).toString("hex"));
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => client.write(chunk));
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      a.on("error", () => b.destroy());
      a.on("close", () => b.end());
    }
  });
  return new Promise((resolve) => {
    listener.listen(0, "127.0.0.1", () => {
      const port = (listener.address() as net.AddressInfo).port;
      resolve({
        port,
        firsts,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => listener.close(() => r()));
        },
      });
    });
  });
}

describe("the CancelRequest's TLS", () => {
  const pools: Pool[] = [];
  const closers: (() => Promise<void>)[] = [];
  let seq = 0;

  async function abortedOver(make: () => Driver, ssl: SslMode) {
    const relay = await forwarder();
    closers.push(relay.close);
    const app = `cancel_tls_${++seq}_${Date.now() % 100000}`;
    const tls = ssl === "verify-full" ? { sslrootcert: server!.tls.caPem } : {};
    const pool = createPool({
      db: {
        host: "127.0.0.1",
        port: relay.port,
        name: server!.database,
        user: server!.user,
        pass: server!.password,
        ssl,
        application_name: app,
        connect_timeout: 2,
        ...tls,
      },
      groups: { default: { connection_count: 1 } },
      driver: make(),
    });
    pools.push(pool);
    const text = "SELECT pg_sleep(30)";
    const count = async () =>
      (await adminQuery(
        server!,
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query = $2",
        [app, text],
      ))[0].n as number;
    const ac = new AbortController();
    const call = pool.withHandler("default", (db) => db.query(text), { signal: ac.signal });
    call.catch(() => {});
    for (let i = 0; i < 100 && await count() === 0; i++) await sleep(30);
    assert.equal(await count(), 1, "the query never started");
    ac.abort(new Error("caller gave up"));
    await assert.rejects(call, /caller gave up/);
    let left = await count();
    for (let i = 0; i < 100 && left > 0; i++) left = (await sleep(30), await count());
    assert.equal(left, 0, "the backend still runs the aborted query");
    return relay.firsts;
  }

  // Bun.SQL sends its own (Query.cancel()), the same way.
  const own = runtimeDrivers();
  const cases: [string, () => Promise<void>][] = own.flatMap(({ name, make }) =>
    [
      [`over ${name}, a session on TLS (verify-full) cancels over TLS`, async () => {
        const firsts = await abortedOver(make, "verify-full");
        // The session, then the cancel: both ask for TLS first.
        assert.deepEqual(firsts, [SSL_REQUEST, SSL_REQUEST]);
      }],
      [`over ${name}, a session in plaintext cancels in plaintext`, async () => {
        const firsts = await abortedOver(make, "disable");
        assert.equal(firsts.length, 2);
        assert.equal(firsts[1], CANCEL_REQUEST);
      }],
    ] as [string, () => Promise<void>][]
  );

  const batch = caseBatch(cases);
  after(async () => {
    await batch.stop();
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(closers.map((c) => c()));
    await server?.dispose();
  });

  for (const [title] of cases) it(title, { skip }, () => batch.check(title));
});
