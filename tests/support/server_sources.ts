/**
 * Where the tests' shared servers come from:
 * 1. `PGDBPOOL_TEST_URLS` (comma-separated URLs; the test runner sets it): those
 *    servers, not restartable. One URL is used for both entries.
 * 2. else `DATABASE_URL`, or `PGHOST` (+ `PGPORT`, `PGUSER`, `PGPASSWORD`,
 *    `PGDATABASE`): that one server, for both entries, not restartable. Point
 *    `PGDBPOOL_TEST_URLS` at two servers to get two distinct ones.
 * 3. else two embedded servers started by this process on free ports, stopped
 *    and deleted when the process (under Deno: the test module) ends.
 *
 * @module
 */

import { reservePort } from "../../src/testing/ports.ts";
import { ServerProcess } from "../../src/testing/server_process.ts";
import { EmbeddedServer, processWorkspace } from "./embedded_server.ts";
import { makeUrl, type TestServer } from "./test_server.ts";

let shared: Promise<TestServer[]> | undefined;

/**
 * The two shared servers of this test run, cached per process (under Deno, per
 * test module: `deno test` gives each module its own global scope, so outside
 * the runner each module starts its own pair). Do not stop them: use
 * `startPrivateServer()` to stop or restart a server.
 *
 * @returns At least two servers (possibly the same one twice, see the module doc).
 */
export function sharedServers(): Promise<TestServer[]> {
  if (!shared) {
    shared = resolveSharedServers();
    // A failed start is not cached: the next caller tries again.
    shared.catch(() => (shared = undefined));
  }
  return shared;
}

/** Forgets the cached shared servers (their workspace was deleted). */
export function forgetSharedServers(): void {
  shared = undefined;
}

async function resolveSharedServers(): Promise<TestServer[]> {
  const fromEnv = serversFromEnv();
  if (fromEnv) {
    for (const s of fromEnv) if (isLoopback(s.host)) reservePort(s.port);
    return fromEnv;
  }
  const ws = await processWorkspace();
  const servers = ["s1", "s2"].map((name) => new EmbeddedServer(new ServerProcess(ws, name)));
  try {
    await Promise.all(servers.map((s) => s.process.create()));
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.dispose()));
    throw err;
  }
  return servers;
}

function serversFromEnv(): TestServer[] | undefined {
  const env = process.env;
  if (env.PGDBPOOL_TEST_URLS) {
    const urls = env.PGDBPOOL_TEST_URLS.split(",").map((u) => u.trim()).filter((u) => u !== "");
    if (urls.length === 0) throw new Error("PGDBPOOL_TEST_URLS is set but holds no URL");
    const servers = urls.map((u) => externalServer(u, "PGDBPOOL_TEST_URLS"));
    return servers.length === 1 ? [servers[0], servers[0]] : servers;
  }
  if (env.DATABASE_URL) {
    const s = externalServer(env.DATABASE_URL, "DATABASE_URL");
    return [s, s];
  }
  if (env.PGHOST) {
    if (env.PGHOST.startsWith("/")) {
      throw new Error(`PGHOST=${env.PGHOST}: the tests need a TCP host, not a Unix socket`);
    }
    const s = makeExternal({
      host: env.PGHOST,
      port: Number(env.PGPORT || 5432),
      user: env.PGUSER || "postgres",
      password: env.PGPASSWORD ?? "",
      database: env.PGDATABASE || env.PGUSER || "postgres",
    });
    return [s, s];
  }
  return undefined;
}

function externalServer(url: string, source: string): TestServer {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${source}: not a URL: "${redact(url)}"`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new Error(`${source}: expected a postgres:// URL, got "${redact(url)}"`);
  }
  const user = decodeURIComponent(u.username) || "postgres";
  return makeExternal({
    host: u.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port: Number(u.port || 5432),
    user,
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || user,
  });
}

function makeExternal(
  p: { host: string; port: number; user: string; password: string; database: string },
): TestServer {
  const refuse = (): Promise<void> =>
    Promise.reject(
      new Error(`server ${p.host}:${p.port} was given through the environment: not restartable`),
    );
  return Object.freeze({ ...p, url: makeUrl(p), restartable: false, stop: refuse, start: refuse });
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
}

function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "localhost" || host === "::1";
}
