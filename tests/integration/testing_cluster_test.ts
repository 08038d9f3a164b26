/**
 * `startCluster()` of `@x/pgdbpool/testing`: a real primary with a streaming
 * hot standby; stop, restart, promote, killed sessions (authenticating ones
 * too), and a close (or a crash) that leaves nothing behind.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type ClusterServer, startCluster, type TestCluster } from "../../src/testing/mod.ts";
import { adminQuery } from "../../src/testing/admin_sql.ts";

let cluster: TestCluster;
let starting: Promise<TestCluster> | undefined;

/**
 * The cluster, started by the first test that needs it: a `before` hook would
 * get Bun's default 5 s timeout, whatever its options say.
 */
async function ready(): Promise<void> {
  starting ??= startCluster({ standbys: 1, password: "it's a \\ secret" });
  // The close test's clusters start meanwhile (startCluster() has read PGDBPOOL_TEST_TMPDIR,
  // which that test points elsewhere while it runs).
  closeTest();
  cluster = await starting;
}

let closing: Promise<void> | undefined;

/** Runs the close test's body once (it uses clusters of its own); its test waits for it. */
function closeTest(): Promise<void> {
  if (!closing) {
    closing = closeLeavesNothing();
    // Its failure is its test's, not an unhandled rejection before that test runs.
    closing.catch(() => {});
  }
  return closing;
}

/** A long timeout for every test: the first one starts the cluster. */
const slow = { timeout: 60_000 };

function sql(server: ClusterServer, text: string, params?: unknown[]) {
  return adminQuery(
    { ...server, user: cluster.user, password: cluster.password, database: "postgres" },
    text,
    params,
  );
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  while (true) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`not within 10 s: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(false)));
    s.once("error", () => resolve(true));
  });
}

/** Runs the crash fixture (`how`: throw or kill) in a process of this runtime; its cluster's ports. */
function crash(
  script: string,
  how: string,
  parent: string,
): Promise<{ code: number | null; signal: string | null; ports: number[] }> {
  const args = "Bun" in globalThis ? [script, how] : ["run", "-A", script, how];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, PGDBPOOL_TEST_TMPDIR: parent },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", () => {});
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const line = out.trim().split("\n")[0];
      resolve({ code, signal, ports: line ? JSON.parse(line) as number[] : [] });
    });
  });
}

/** A raw connection that sends its startup packet and then stays silent during authentication. */
async function authenticating(port: number, app: string): Promise<net.Socket> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  const params = `user\0postgres\0database\0postgres\0application_name\0${app}\0\0`;
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from(params)]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  socket.write(Buffer.concat([length, body]));
  await new Promise((r) => socket.once("data", r)); // the SASL challenge: the backend exists
  return socket;
}

describe("startCluster()", () => {
  after(async () => {
    await closing?.catch(() => {});
    await (await starting?.catch(() => undefined))?.close();
  });

  it("startCluster() starts a primary and a hot standby streaming from it", slow, async () => {
    await ready();
    const [p] = await sql(cluster.primary, "SELECT pg_is_in_recovery() AS r");
    const [s] = await sql(cluster.standbys[0], "SELECT pg_is_in_recovery() AS r");
    assert.deepEqual([p.r, s.r], [false, true]);
    await sql(cluster.primary, "CREATE TABLE streamed (v int); INSERT INTO streamed VALUES (42)");
    const row = await eventually(async () => {
      const rows = await sql(cluster.standbys[0], "SELECT v FROM streamed");
      return rows[0];
    }, "the row reaches the standby");
    assert.equal(row.v, 42);
    await assert.rejects(sql(cluster.standbys[0], "INSERT INTO streamed VALUES (1)"), {
      code: "25006",
    });
  });

  it("url() names every server, primary first; each server has its own url", slow, async () => {
    await ready();
    const { primary, standbys } = cluster;
    assert.equal(
      cluster.url(),
      `postgres://postgres:${encodeURIComponent(cluster.password)}@127.0.0.1:${primary.port},` +
        `127.0.0.1:${standbys[0].port}/postgres`,
    );
    assert.equal(new URL(primary.url).port, String(primary.port));
    assert.equal(decodeURIComponent(new URL(primary.url).password), "it's a \\ secret");
  });

  it(
    "killBackends() terminates the sessions its filter picks, authenticating ones too",
    slow,
    async () => {
      await ready();
      const waiting = await authenticating(cluster.primary.port, "authing");
      const closed = new Promise<void>((r) => waiting.once("close", () => r()));
      const killed = await cluster.killBackends(cluster.primary, (b) => b.state === "starting");
      assert.equal(killed, 1);
      await closed;
      assert.equal(
        await cluster.killBackends(cluster.primary, (b) => b.applicationName === "none"),
        0,
      );
    },
  );

  it("stop() shuts a server down; restart() brings it back on its port", slow, async () => {
    await ready();
    const standby = cluster.standbys[0];
    await cluster.stop(standby);
    assert.ok(await refused(standby.port));
    await cluster.restart(standby);
    const [row] = await sql(standby, "SELECT pg_is_in_recovery() AS r");
    assert.equal(row.r, true, "still a standby after the restart");
  });

  it("promote(i) makes the standby accept writes", slow, async () => {
    await ready();
    await assert.rejects(cluster.promote(5), RangeError);
    await cluster.promote(0);
    await sql(cluster.standbys[0], "CREATE TABLE after_promotion (v int)");
  });

  it("startCluster() rejects a bad standby count or password", async () => {
    await assert.rejects(startCluster({ standbys: -1 }), RangeError);
    await assert.rejects(startCluster({ standbys: 1.5 }), RangeError);
    await assert.rejects(startCluster({ password: "a\nb" }), TypeError);
  });

  it("close() leaves no process and no folder, and neither does a crashed test process", {
    timeout: 60_000,
  }, () => closeTest());
});

/** The close test: a cluster closed, and processes that started one and crashed, leave nothing. */
async function closeLeavesNothing(): Promise<void> {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "pgdbpool-cluster-"));
  fs.chmodSync(parent, 0o755); // the servers may run as another OS user
  const saved = process.env.PGDBPOOL_TEST_TMPDIR;
  process.env.PGDBPOOL_TEST_TMPDIR = parent;
  try {
    const c = await startCluster({ standbys: 1 });
    const ports = [c.primary.port, c.standbys[0].port];
    assert.equal(fs.readdirSync(parent).length, 1);
    await c.close();
    await c.close();
    assert.deepEqual(fs.readdirSync(parent), []);
    for (const port of ports) assert.ok(await refused(port));
    // Processes that start a cluster and die without close(): of an uncaught error (exit
    // handlers run, where the runtime has them) and of SIGKILL (only the watchdog is left).
    const script = fileURLToPath(
      new URL("../support/fixtures/cluster_crash.ts", import.meta.url),
    );
    const crashes = await Promise.all(["throw", "kill"].map((how) => crash(script, how, parent)));
    for (const { code, signal, ports } of crashes) {
      assert.ok(code !== 0 || signal, "the script crashed");
      assert.equal(ports.length, 1, "the script started its cluster");
    }
    await eventually(
      () => Promise.resolve(fs.readdirSync(parent).length === 0 || undefined),
      "folders gone",
    );
    for (const { ports } of crashes) {
      for (const port of ports) assert.ok(await refused(port), `port ${port} closed`);
    }
  } finally {
    if (saved === undefined) delete process.env.PGDBPOOL_TEST_TMPDIR;
    else process.env.PGDBPOOL_TEST_TMPDIR = saved;
    fs.rmSync(parent, { recursive: true, force: true });
  }
}
