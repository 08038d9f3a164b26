import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import postgres from "postgres";
import {
  adminQuery,
  freePort,
  type PrivateTestServer,
  sharedServers,
  startPrivateServer,
  startPrivateStandby,
  type TestServer,
} from "./servers.ts";

async function selectOne(server: TestServer): Promise<{ one: number; port: number }> {
  const sql = postgres(server.url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [row] = await sql`SELECT 1 AS one, inet_server_port() AS port`;
    return { one: row.one, port: row.port };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: Error & { code?: string }) => resolve(err.code === "ECONNREFUSED"));
  });
}

describe("sharedServers()", () => {
  it("returns two servers that answer SELECT 1 on their own port", async () => {
    const servers = await sharedServers();
    assert.ok(servers.length >= 2);
    for (const server of servers) {
      assert.deepEqual(await selectOne(server), { one: 1, port: server.port });
      assert.match(server.url, /^postgres:\/\/[^:]+:[^@]+@[^:]+:\d+\/\w+$/);
    }
    assert.equal(await sharedServers(), await sharedServers(), "cached");
  });

  it("rejects a wrong password (scram-sha-256 is enforced)", async () => {
    const [server] = await sharedServers();
    const sql = postgres({
      host: server.host,
      port: server.port,
      user: server.user,
      password: `${server.password}-wrong`,
      database: server.database,
      max: 1,
      onnotice: () => {},
    });
    try {
      await assert.rejects(sql`SELECT 1`, { code: "28P01" });
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("allows at least 250 connections", async () => {
    const [server] = await sharedServers();
    const rows = await adminQuery(server, "SELECT current_setting('max_connections')::int AS n");
    assert.ok(Number(rows[0].n) >= 250, `max_connections = ${rows[0].n}`);
  });
});

describe("adminQuery()", () => {
  it("runs SQL with parameters as a superuser", async () => {
    const [server] = await sharedServers();
    const rows = await adminQuery(
      server,
      "SELECT $1::int + 1 AS n, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su",
      [41],
    );
    assert.deepEqual(rows, [{ n: 42, su: true }]);
  });
});

describe("freePort()", () => {
  it("returns distinct ports where connections are refused", async () => {
    const a = await freePort();
    const b = await freePort();
    assert.notEqual(a, b);
    assert.ok(await refused(a));
    assert.ok(await refused(b));
  });
});

describe("startPrivateServer()", () => {
  const owned: PrivateTestServer[] = [];
  after(async () => {
    await Promise.all(owned.map((s) => s.dispose()));
  });

  it("stops and starts again on the same port with the same data", async () => {
    const server = await startPrivateServer();
    owned.push(server);
    assert.equal(server.restartable, true);
    await adminQuery(server, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)");
    await server.stop();
    assert.ok(await refused(server.port), "refuses connections while stopped");
    await server.stop(); // idempotent
    await server.start();
    assert.deepEqual(await adminQuery(server, "SELECT v FROM kept"), [{ v: 7 }]);
    assert.equal((await selectOne(server)).port, server.port);
  });

  it("dispose() stops the server for good", async () => {
    const server = await startPrivateServer();
    await server.dispose();
    assert.ok(await refused(server.port));
    await server.dispose(); // idempotent
    await assert.rejects(server.start(), /disposed/);
  });

  it("startPrivateStandby() streams from the primary and can be promoted", async () => {
    const primary = await startPrivateServer();
    owned.push(primary);
    const standby = await startPrivateStandby(primary);
    owned.push(standby);
    assert.deepEqual(await adminQuery(standby, "SELECT pg_is_in_recovery() AS r"), [{ r: true }]);
    await adminQuery(primary, "CREATE TABLE replicated AS SELECT 1 AS v");
    const deadline = Date.now() + 10_000;
    while (true) {
      const rows = await adminQuery(
        standby,
        "SELECT to_regclass('replicated') IS NOT NULL AS here",
      );
      if (rows[0].here) break;
      assert.ok(Date.now() < deadline, "table did not reach the standby");
      await new Promise((r) => setTimeout(r, 50));
    }
    await standby.promote();
    assert.deepEqual(await adminQuery(standby, "SELECT pg_is_in_recovery() AS r"), [{ r: false }]);
  });
});
