/**
 * The public testing kit (`@x/pgdbpool/testing`) misused as a new user would:
 * options missing or of the wrong type, a port already taken, `close()` twice
 * and at once, a delay no timer can hold, calls on a closed cluster, a
 * `close()` while a restart runs, and an abort while a cluster starts. Each is
 * a typed error (or a no-op), rejected rather than thrown where the call
 * returns a promise, and leaves no process, socket or folder behind.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type ClusterServer, startCluster, startProxy } from "../../src/testing/mod.ts";

/** Whether nothing listens on `port` any more. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });
}

/** A fresh parent folder for one cluster, so that what it leaves behind can be seen. */
function parentFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgdbpool-surface-"));
  fs.chmodSync(dir, 0o755); // the servers may run as another OS user
  return dir;
}

/** Starts a cluster whose folder lives under `parent` (read once, before the first await). */
function clusterUnder(parent: string, options: Parameters<typeof startCluster>[0]) {
  const saved = process.env.PGDBPOOL_TEST_TMPDIR;
  process.env.PGDBPOOL_TEST_TMPDIR = parent;
  try {
    return startCluster(options);
  } finally {
    if (saved === undefined) delete process.env.PGDBPOOL_TEST_TMPDIR;
    else process.env.PGDBPOOL_TEST_TMPDIR = saved;
  }
}

/** Resolves with what `fn` throws or rejects with; fails when it throws synchronously or settles fine. */
async function rejectionOf(fn: () => Promise<unknown>, what: string): Promise<unknown> {
  let pending: Promise<unknown>;
  try {
    pending = fn();
  } catch (err) {
    return assert.fail(`${what} threw synchronously instead of rejecting: ${err}`);
  }
  try {
    await pending;
  } catch (err) {
    return err;
  }
  return assert.fail(`${what} resolved`);
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), what);
}

describe("startProxy() misused", () => {
  it("no options, or a target of the wrong shape: a TypeError naming startProxy()", async () => {
    for (const options of [undefined, null, {}, { target: "127.0.0.1:5432" }]) {
      const err = await rejectionOf(() => startProxy(options as never), `startProxy(${options})`);
      assert.ok(err instanceof TypeError, String(err));
      assert.match(err.message, /startProxy\(\)/);
    }
  });

  it("a listen port out of range or of the wrong type: a RangeError or TypeError naming port", async () => {
    const target = { host: "127.0.0.1", port: 5432 };
    for (const port of [-1, 65536, 1.5, "15432", NaN]) {
      const err = await rejectionOf(
        () => startProxy({ target, port: port as number }),
        `startProxy({ port: ${port} })`,
      );
      assert.ok(err instanceof RangeError || err instanceof TypeError, String(err));
      assert.match(err.message, /startProxy\(\).*port/);
    }
  });

  it("a port already taken rejects with EADDRINUSE and leaves the port to its owner", async () => {
    const owner = net.createServer((s) => s.end("owner\n"));
    await new Promise<void>((resolve) => owner.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const port = (owner.address() as net.AddressInfo).port;
    try {
      const err = await rejectionOf(
        () => startProxy({ target: { host: "127.0.0.1", port: 1 }, port }),
        "startProxy() on a taken port",
      ) as NodeJS.ErrnoException;
      assert.equal(err.code, "EADDRINUSE", String(err));
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: "127.0.0.1", port });
        s.once("data", (d) => (s.destroy(), resolve(String(d))));
        s.once("error", reject);
      });
      assert.equal(reply, "owner\n");
    } finally {
      await new Promise((resolve) => owner.close(resolve));
    }
  });

  it("close() twice and at once resolves every time; mode changes after it do nothing", async () => {
    const proxy = await startProxy({ target: { host: "127.0.0.1", port: 1 } });
    await Promise.all([proxy.close(), proxy.close()]);
    await proxy.close();
    proxy.stall();
    proxy.pass();
    proxy.drop();
    proxy.silenceOpen();
    assert.ok(await refused(proxy.port));
    assert.equal(proxy.connectionCount, 0);
  });

  it("close() with delayed chunks in flight clears their timers: nothing keeps the process alive", async () => {
    const echo = net.createServer((s) => s.on("data", (d) => s.write(d)));
    await new Promise<void>((resolve) => echo.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const target = { host: "127.0.0.1", port: (echo.address() as net.AddressInfo).port };
    const g = globalThis as unknown as {
      setTimeout: (fn: () => void, ms?: number) => unknown;
      clearTimeout: (t: unknown) => void;
    };
    const [realSet, realClear] = [g.setTimeout, g.clearTimeout];
    const pending = new Set<unknown>();
    g.setTimeout = (fn, ms) => {
      if ((ms ?? 0) < 30_000) return realSet(fn, ms);
      const t = realSet(() => (pending.delete(t), fn()), ms);
      pending.add(t);
      return t;
    };
    g.clearTimeout = (t) => (pending.delete(t), realClear(t));
    try {
      const proxy = await startProxy({ target });
      proxy.delay(60_000);
      const client = net.connect({ host: proxy.host, port: proxy.port });
      await new Promise((resolve) => client.once("connect", resolve));
      client.on("error", () => {});
      client.write("held back");
      await eventually(() => pending.size > 0, "the chunk waits on its timer");
      await proxy.close();
      client.destroy();
      assert.equal(pending.size, 0, "a delayed chunk's timer outlived close()");
    } finally {
      for (const t of pending) realClear(t);
      g.setTimeout = realSet;
      g.clearTimeout = realClear;
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it("delay() longer than a timer can hold is a RangeError, not a chunk sent at once", async () => {
    const proxy = await startProxy({ target: { host: "127.0.0.1", port: 1 } });
    try {
      assert.throws(() => proxy.delay(2 ** 31), RangeError);
      assert.throws(() => proxy.delay(Infinity), RangeError);
      proxy.delay(2 ** 31 - 1);
      assert.equal(proxy.mode, "delay");
    } finally {
      await proxy.close();
    }
  });
});

describe("startCluster() misused", () => {
  it("options of the wrong type: a TypeError or RangeError naming the option, nothing started", async () => {
    const parent = parentFolder();
    try {
      const cases: [unknown, RegExp][] = [
        [null, /options/],
        ["1", /options/],
        [{ password: 5 }, /password/],
        [{ standbys: "1" }, /standbys/],
        [{ signal: "abort" }, /signal/],
      ];
      for (const [options, message] of cases) {
        const err = await rejectionOf(
          () => clusterUnder(parent, options as never),
          `startCluster(${JSON.stringify(options)})`,
        );
        assert.ok(err instanceof TypeError || err instanceof RangeError, String(err));
        assert.match(err.message, message);
      }
      assert.deepEqual(fs.readdirSync(parent), []);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it("an aborted signal: startCluster() rejects with its reason and leaves no folder or server", async () => {
    const parent = parentFolder();
    try {
      const reason = new Error("the test gave up");
      const already = await rejectionOf(
        () => clusterUnder(parent, { standbys: 0, signal: AbortSignal.abort(reason) }),
        "startCluster() with an aborted signal",
      );
      assert.equal(already, reason);
      const controller = new AbortController();
      const starting = clusterUnder(parent, { standbys: 1, signal: controller.signal });
      setTimeout(() => controller.abort(reason), 50);
      assert.equal(
        await rejectionOf(() => starting, "startCluster() aborted while starting"),
        reason,
      );
      await eventually(() => fs.readdirSync(parent).length === 0, "the folder is removed");
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it(
    "a closed cluster refuses every call by rejecting, and a close() during a restart leaves nothing",
    async () => {
      const parent = parentFolder();
      try {
        const cluster = await clusterUnder(parent, { standbys: 0 });
        const { primary } = cluster;
        const foreign = { ...primary, name: "other" } as ClusterServer;
        for (
          const [what, call] of [
            ["stop(foreign)", () => cluster.stop(foreign)],
            ["restart(foreign)", () => cluster.restart(foreign)],
            ["killBackends(foreign)", () => cluster.killBackends(foreign)],
            ["promote(0) without standbys", () => cluster.promote(0)],
          ] as [string, () => Promise<unknown>][]
        ) {
          const err = await rejectionOf(call, what);
          assert.ok(err instanceof TypeError || err instanceof RangeError, `${what}: ${err}`);
        }
        const restarting = cluster.restart(primary).then(() => "restarted", (e: Error) => e);
        await Promise.all([cluster.close(), cluster.close()]);
        const outcome = await restarting;
        assert.ok(outcome === "restarted" || outcome instanceof Error, String(outcome));
        for (
          const [what, call] of [
            ["stop", () => cluster.stop(primary)],
            ["restart", () => cluster.restart(primary)],
            ["killBackends", () => cluster.killBackends(primary)],
            ["promote", () => cluster.promote(0)],
          ] as [string, () => Promise<unknown>][]
        ) {
          const err = await rejectionOf(call, `${what}() after close()`);
          assert.ok(err instanceof Error, `${what}: ${err}`);
        }
        assert.ok(await refused(primary.port), "the server is gone");
        assert.deepEqual(fs.readdirSync(parent), []);
      } finally {
        fs.rmSync(parent, { recursive: true, force: true });
      }
    },
  );
});
