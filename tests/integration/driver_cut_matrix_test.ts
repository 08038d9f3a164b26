/**
 * The fault matrix: every driver's connection is cut (or stalled) by a proxy after N bytes,
 * for N across the whole handshake (TLS refusal, startup, SCRAM, parameters)
 * and a query, in each direction. Each connect and query settles (a
 * `ConnectionError`, or success when the cut came too late to matter),
 * nothing escapes as an unhandled rejection or an uncaught exception, and a
 * session that did open reports `closed` after the cut. The cut points of a
 * test run at once, each through a proxy of its own (most of their time is
 * the drivers' timeouts). Runs under `deno test` and `bun test` (Bun.SQL on
 * Bun only).
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import type { Driver } from "../../src/driver.ts";
import { ConnectionError } from "../../src/errors.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import {
  type CutDirection,
  type CuttingProxy,
  startCuttingProxy,
} from "../support/cutting_proxy.ts";
import { watchEscapes } from "../support/escapes.ts";
import { onBun, runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

/** Cut points: dense at the start, then spread over the measured traffic. */
function cutPoints(total: number, count: number): number[] {
  const points = new Set([0, 1, 2, 4, 5, 8, 9]);
  for (let i = 1; i <= count; i++) points.add(Math.floor((total * i) / (count + 1)));
  points.add(Math.max(0, total - 1));
  return [...points].filter((n) => n < total).sort((a, b) => a - b);
}

for (const { name, make: makeDriver } of drivers) {
  describe(`${name}: a connection cut at every stage`, () => {
    let server: TestServer;
    let proxy: CuttingProxy;

    before(async () => {
      server = (await sharedServers())[0];
      proxy = await startCuttingProxy(server.host, server.port);
    });

    after(async () => {
      await proxy.close();
    });

    /** A proxy of its own for `fn`, with `rule` applied to every connection through it. */
    async function throughOwnProxy<T>(
      rule: (p: CuttingProxy) => void,
      fn: (p: CuttingProxy) => Promise<T>,
    ): Promise<T> {
      const own = await startCuttingProxy(server.host, server.port);
      try {
        rule(own);
        return await fn(own);
      } finally {
        await own.close();
      }
    }

    /** One connect, one query, one close through `via`; what happened. */
    async function attempt(driver: Driver, via: CuttingProxy = proxy): Promise<string> {
      const params = connectParams(server, {
        host: "127.0.0.1",
        port: via.port,
        ssl: "prefer",
        // Bun.SQL retries a connection cut during startup until this deadline.
        connectTimeoutMs: 1_000,
      });
      let conn;
      try {
        conn = await driver.connect(params);
      } catch (err) {
        assert.ok(err instanceof ConnectionError, `connect: ${inspect(err)}`);
        return "connect failed";
      }
      try {
        await conn.query("SELECT $1::int + 1 AS n, repeat('x', 200) AS pad", [41]);
        return "ok";
      } catch (err) {
        assert.ok(conn.closed, `query failed but the session is not closed: ${inspect(err)}`);
        return "query failed";
      } finally {
        await conn.close();
      }
    }

    it(
      "connect() rejects with ConnectionError in time, and nothing escapes, when the server goes silent at any point of the handshake",
      {
        timeout: 60_000,
      },
      async () => {
        proxy.cutAfter("toClient", undefined);
        const before = proxy.passed.toClient;
        const driver = makeDriver();
        const warm = await driver.connect(
          connectParams(server, { host: "127.0.0.1", port: proxy.port }),
        );
        await warm.close();
        const handshake = proxy.passed.toClient - before;
        const watch = watchEscapes();
        try {
          await Promise.all(
            cutPoints(handshake, 4).map((bytes) =>
              throughOwnProxy((p) => p.stallAfter("toClient", bytes), async (p) => {
                const started = Date.now();
                await assert.rejects(
                  makeDriver().connect(
                    connectParams(server, {
                      host: "127.0.0.1",
                      port: p.port,
                      connectTimeoutMs: 300,
                    }),
                  ),
                  (err) => err instanceof ConnectionError,
                );
                const took = Date.now() - started;
                assert.ok(took < 2_000, `gave up after ${took} ms (stalled after ${bytes} bytes)`);
              })
            ),
          );
        } finally {
          proxy.cutAfter("toClient", undefined);
          await settle();
          watch.stop();
        }
        assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
      },
    );

    for (const direction of ["toClient", "toServer"] as CutDirection[]) {
      const where = direction === "toClient"
        ? "in the server's replies"
        : "in the client's messages";
      // Bun.SQL waits out its connect timeout on each cut during startup.
      it(`connect() and query() settle and nothing escapes when the connection is cut ${where}`, {
        timeout: 60_000,
      }, async () => {
        // Measure the traffic of one full attempt. A fresh driver each time,
        // so postgres.js's first session fetches the array types every time.
        proxy.cutAfter(direction, undefined);
        const before = proxy.passed[direction];
        assert.equal(await attempt(makeDriver()), "ok");
        const total = proxy.passed[direction] - before;
        const watch = watchEscapes();
        const seen: Record<string, number> = {};
        try {
          const outcomes = await Promise.all(
            cutPoints(total, onBun ? 6 : 14).map((bytes) =>
              throughOwnProxy(
                (p) => p.cutAfter(direction, bytes),
                (p) => attempt(makeDriver(), p),
              )
            ),
          );
          for (const outcome of outcomes) seen[outcome] = (seen[outcome] ?? 0) + 1;
        } finally {
          proxy.cutAfter(direction, undefined);
          await settle();
          watch.stop();
        }
        assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
        assert.ok((seen["connect failed"] ?? 0) > 0, inspect(seen));
        // Drivers work again once the network does.
        assert.equal(await attempt(makeDriver()), "ok");
      });
    }
  });
}
