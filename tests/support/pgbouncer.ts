/**
 * A PgBouncer of the test's own, in front of a test server: its own temporary
 * directory, ini and auth file, a free port on 127.0.0.1, `pool_mode` as asked
 * (transaction by default). PgBouncer refuses to run as root: as root it is
 * started with `-u nobody` (its files made readable for that user).
 *
 * The binary is `pgbouncer` on the PATH, else `/usr/sbin/pgbouncer` (Debian's
 * package; `.ci/run` installs it), else `PGDBPOOL_PGBOUNCER`.
 * {@linkcode pgbouncerMissing} says why tests that need it are skipped.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { freePort } from "../../src/testing/ports.ts";
import type { TestServer } from "./test_server.ts";

/** A running PgBouncer. */
export interface Bouncer {
  /** 127.0.0.1. */
  readonly host: string;
  /** Its port. */
  readonly port: number;
  /** The test server it fronts, addressed through PgBouncer (same user, password, database). */
  readonly server: TestServer;
  /** Its `-V` line, e.g. `PgBouncer 1.18.0`. */
  readonly version: string;
  /** What it logged so far. */
  log(): string;
  /** Stops it and deletes its directory. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startPgbouncer}. */
export interface BouncerOptions {
  /** `pool_mode`. @default {"transaction"} */
  poolMode?: "session" | "transaction" | "statement";
  /** `default_pool_size`: server connections per user and database. @default {2} */
  poolSize?: number;
  /** Extra lines for the `[pgbouncer]` section. */
  extra?: readonly string[];
}

/** Where the binary is, or `undefined`. */
export function pgbouncerBinary(): string | undefined {
  const candidates = [
    process.env.PGDBPOOL_PGBOUNCER,
    ...(process.env.PATH ?? "").split(":").map((d) => d && path.join(d, "pgbouncer")),
    "/usr/sbin/pgbouncer",
  ];
  for (const c of candidates) {
    if (c && fs.existsSync(c)) return c;
  }
  return undefined;
}

/** Why PgBouncer tests cannot run here, or `undefined` when they can. */
export function pgbouncerMissing(): string | undefined {
  if (pgbouncerBinary() !== undefined) return undefined;
  return "pgbouncer is not installed (apt-get install pgbouncer, as .ci/run does; or set PGDBPOOL_PGBOUNCER)";
}

/**
 * Starts PgBouncer in front of `server`, logging in to it with the server's
 * user and password (SCRAM both ways).
 *
 * @returns The running PgBouncer; call `stop()`.
 */
export async function startPgbouncer(
  server: TestServer,
  options: BouncerOptions = {},
): Promise<Bouncer> {
  const bin = pgbouncerBinary();
  if (bin === undefined) throw new Error(pgbouncerMissing());
  const version = spawnSync(bin, ["-V"], { encoding: "utf8" }).stdout.split("\n")[0].trim();
  const dir = fs.mkdtempSync(
    path.join(process.env.PGDBPOOL_TEST_TMPDIR ?? os.tmpdir(), "pgbouncer-"),
  );
  const port = await freePort();
  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
  fs.writeFileSync(
    path.join(dir, "users.txt"),
    `${quote(server.user)} ${quote(server.password)}\n`,
  );
  const ini = [
    "[databases]",
    `${server.database} = host=${server.host} port=${server.port} dbname=${server.database}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    `auth_type = scram-sha-256`,
    `auth_file = ${path.join(dir, "users.txt")}`,
    `pool_mode = ${options.poolMode ?? "transaction"}`,
    `default_pool_size = ${options.poolSize ?? 2}`,
    "max_client_conn = 200",
    ...(options.extra ?? []),
  ];
  fs.writeFileSync(path.join(dir, "pgbouncer.ini"), ini.join("\n") + "\n");
  const root = process.getuid?.() === 0;
  if (root) {
    // PgBouncer will not run as root; `-u nobody` drops to that user, who must read its files.
    fs.chmodSync(dir, 0o755);
    for (const f of ["users.txt", "pgbouncer.ini"]) fs.chmodSync(path.join(dir, f), 0o644);
  }
  const args = [...(root ? ["-u", "nobody"] : []), path.join(dir, "pgbouncer.ini")];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (b) => (log += b));
  child.stderr.on("data", (b) => (log += b));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // A test process that dies without stop() takes its PgBouncer and files along.
  const onExit = () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  const stop = async () => {
    process.off("exit", onExit);
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await listening(port, () => child.exitCode !== null, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    host: "127.0.0.1",
    port,
    // Field by field: an embedded server's fields are getters, which a spread would drop.
    server: {
      host: "127.0.0.1",
      port,
      user: server.user,
      password: server.password,
      database: server.database,
      url: urlOf(server, port),
      restartable: false,
      stop: () => Promise.reject(new Error("this server cannot be stopped from here")),
      start: () => Promise.reject(new Error("this server cannot be started from here")),
    },
    version,
    log: () => log,
    stop,
  };
}

function urlOf(server: TestServer, port: number): string {
  const u = new URL(server.url);
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return u.toString();
}

async function listening(port: number, dead: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`pgbouncer exited at start:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port} within 10 s:\n${log()}`);
}
