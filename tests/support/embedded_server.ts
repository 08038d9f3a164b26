/**
 * Embedded servers of this test process: one workspace (temporary folder)
 * per process — per test module under Deno —, servers copied from one
 * template cluster (the runner's, when it hands one down), private servers
 * with or without TLS, and standbys. The process mechanics live in
 * `src/testing/` (the public kit); this module adapts them to `TestServer`.
 *
 * @module
 */

import { promoteStandby, startStandbys } from "../../src/testing/standby.ts";
import { ServerProcess } from "../../src/testing/server_process.ts";
import { copyDir } from "../../src/testing/processes.ts";
import {
  createWorkspace,
  disposeWorkspaceSync,
  templateOf,
  type Workspace,
} from "../../src/testing/workspace.ts";
import { configureTls, tlsUnavailable } from "./certificates.ts";
import { sweepDeadHarnesses } from "./crash_cleanup.ts";
import {
  makeUrl,
  type PrivateServerOptions,
  type PrivateTestServer,
  type StandbyTestServer,
  type TestServerTls,
  type TestTlsOptions,
  type TlsTestServer,
} from "./test_server.ts";

/** A `TestServer` over one embedded server process. */
export class EmbeddedServer implements PrivateTestServer, StandbyTestServer {
  readonly restartable = true;
  readonly process: ServerProcess;
  /** Set when the server serves TLS (`startPrivateServer({ tls: true })`), or copies one that does. */
  tls: TestServerTls | undefined;

  constructor(process: ServerProcess) {
    this.process = process;
  }

  get host(): string {
    return this.process.host;
  }
  get port(): number {
    return this.process.port;
  }
  get user(): string {
    return this.process.user;
  }
  get password(): string {
    return this.process.password;
  }
  get database(): string {
    return this.process.database;
  }
  get url(): string {
    return makeUrl(this);
  }

  start(): Promise<void> {
    return this.process.start();
  }
  stop(): Promise<void> {
    return this.process.stop();
  }
  dispose(): Promise<void> {
    return this.process.dispose();
  }
  promote(): Promise<void> {
    return promoteStandby(this.process);
  }
}

let harness: Promise<Workspace> | undefined;
let current: Workspace | undefined;

/**
 * This process's workspace, made on first use. It copies the runner's
 * template (`PGDBPOOL_TEST_TEMPLATE` + `PGDBPOOL_TEST_TEMPLATE_PASSWORD`)
 * when given, lives under `PGDBPOOL_TEST_TMPDIR` when set, and first sweeps
 * what crashed test processes left there.
 *
 * @returns The workspace.
 */
export function processWorkspace(): Promise<Workspace> {
  if (!harness) {
    const parent = process.env.PGDBPOOL_TEST_TMPDIR || undefined;
    if (parent) sweepDeadHarnesses(parent);
    const dir = process.env.PGDBPOOL_TEST_TEMPLATE;
    const password = process.env.PGDBPOOL_TEST_TEMPLATE_PASSWORD;
    const template = dir && password !== undefined ? { dir, password } : undefined;
    harness = createWorkspace({ parent, template }).then((ws) => (current = ws));
    // A failed start is not cached: the next caller tries again.
    harness.catch(() => (harness = undefined));
  }
  return harness;
}

/**
 * Starts an embedded server that only the caller uses (for tests that stop,
 * restart or break a server, or that need TLS). The caller must `dispose()`
 * it; anything left is killed when the process ends.
 *
 * @param options `{ tls: true }` for a server with a fresh self-signed certificate.
 * @returns The running server; with `tls`, its CA and certificate in `tls`.
 * @throws {Error} With `tls`, when `tlsUnavailable()` gives a reason (which the message quotes).
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
  const ws = await processWorkspace();
  const server = new EmbeddedServer(new ServerProcess(ws, `p${++ws.serial}`));
  const tls = options.tls;
  if (!tls) await server.process.create();
  else {
    await server.process.create(async () => {
      await copyDir(await templateOf(ws), server.process.dataDir);
      server.tls = await configureTls(server.process.dataDir, ws.runAs, tls === true ? {} : tls);
    });
  }
  return server;
}

/**
 * Starts a hot standby streaming from `primary`, a server from
 * {@linkcode startPrivateServer}; resolves once it streams. The primary is
 * stopped for a moment (fast shutdown) while its data directory is copied.
 * The caller must `dispose()` the standby.
 *
 * @returns The standby.
 * @throws {TypeError} When `primary` is not from `startPrivateServer()`.
 */
export async function startPrivateStandby(primary: PrivateTestServer): Promise<StandbyTestServer> {
  if (!(primary instanceof EmbeddedServer)) {
    throw new TypeError("startPrivateStandby() needs a server from startPrivateServer()");
  }
  const ws = primary.process.workspace;
  const standby = new EmbeddedServer(new ServerProcess(ws, `p${++ws.serial}`));
  // The data directory is copied, certificates and ssl settings included.
  standby.tls = primary.tls;
  await startStandbys(primary.process, [standby.process]);
  return standby;
}

/**
 * For the test runner: makes sure this process's template cluster exists and
 * returns the environment that lets child processes copy it instead of
 * running initdb themselves.
 *
 * @returns `PGDBPOOL_TEST_TEMPLATE` and `PGDBPOOL_TEST_TEMPLATE_PASSWORD`.
 */
export async function templateEnv(): Promise<Record<string, string>> {
  const ws = await processWorkspace();
  return {
    PGDBPOOL_TEST_TEMPLATE: await templateOf(ws),
    PGDBPOOL_TEST_TEMPLATE_PASSWORD: ws.password,
  };
}

/**
 * Stops every embedded server of this process and deletes the workspace; the
 * next request makes a new one.
 */
export async function disposeProcessWorkspace(): Promise<void> {
  const ws = current;
  if (!ws) return;
  await Promise.allSettled(
    [...ws.servers].map((s) => s instanceof ServerProcess ? s.dispose() : undefined),
  );
  disposeWorkspaceSync(ws);
  current = undefined;
  harness = undefined;
}
