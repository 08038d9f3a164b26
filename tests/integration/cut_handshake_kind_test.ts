/**
 * What a failed connect says about its endpoint, per driver, through a real
 * proxy in front of a real server (issue 9, item 6a): a connection accepted
 * and then cut before the server's first message (a backend killed as it
 * starts, a pooler dropping the client) is a cut handshake, the server is up;
 * a refused port and a server that accepts and never answers within
 * `connect_timeout` stay outages.
 *
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { inspect } from "node:util";
import { ConnectionError } from "../../src/errors.ts";
import { classifyConnectFailure } from "../../src/endpoints/health.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { type CuttingProxy, startCuttingProxy } from "../support/cutting_proxy.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

for (const { name, make: makeDriver } of drivers) {
  describe(`${name}: the kind of a failed connect`, () => {
    let server: TestServer;
    let proxy: CuttingProxy;

    before(async () => {
      server = (await sharedServers())[0];
      proxy = await startCuttingProxy(server.host, server.port);
    });

    after(async () => {
      await proxy.close();
    });

    async function kindOf(port: number, connectTimeoutMs = 2_000): Promise<string> {
      const params = connectParams(server, { host: "127.0.0.1", port, connectTimeoutMs });
      try {
        const conn = await makeDriver().connect(params);
        await conn.close();
        return "connected";
      } catch (err) {
        assert.ok(err instanceof ConnectionError, inspect(err));
        return classifyConnectFailure(err);
      }
    }

    it("accepted, then cut before the server's first message: a cut handshake", {
      timeout: 30_000,
      skip: name === "bun-sql"
        ? "Bun.SQL itself retries a connection cut during startup until connect_timeout, then " +
          "reports a timeout: the adapter never sees the cut"
        : false,
    }, async () => {
      proxy.cutAfter("toClient", 0);
      try {
        assert.equal(await kindOf(proxy.port), "handshake");
      } finally {
        proxy.cutAfter("toClient", undefined);
      }
      assert.equal(await kindOf(proxy.port), "connected");
    });

    it("a refused port, and a silent server past connect_timeout: outages", {
      timeout: 30_000,
    }, async () => {
      assert.equal(await kindOf(await closedPort()), "outage");
      proxy.stallAfter("toClient", 0);
      try {
        assert.equal(await kindOf(proxy.port, 300), "outage");
      } finally {
        proxy.cutAfter("toClient", undefined);
      }
    });
  });
}
