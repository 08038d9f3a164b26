/**
 * One embedded PostgreSQL server: its data directory in a workspace, its
 * postmaster process, start, fast stop, and deletion.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { serverEnv } from "./binaries.ts";
import { freePort, releasePort } from "./ports.ts";
import { copyDir, logTail, POLL_MS, readPidFile, sleep } from "./processes.ts";
import { STOP_TIMEOUT_MS, templateOf, type Workspace } from "./workspace.ts";

const READY_TIMEOUT_MS = 30_000;

/** An embedded server on 127.0.0.1, superuser `postgres`, database `postgres`. */
export class ServerProcess {
  readonly host = "127.0.0.1";
  readonly user = "postgres";
  readonly database = "postgres";
  readonly workspace: Workspace;
  readonly name: string;
  readonly dataDir: string;
  readonly logFile: string;
  #port = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #disposed = false;
  /** Serialises start, stop and dispose on this server. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(ws: Workspace, name: string) {
    this.workspace = ws;
    this.name = name;
    this.dataDir = path.join(ws.dir, name);
    this.logFile = path.join(ws.dir, `${name}.log`);
  }

  get password(): string {
    return this.workspace.password;
  }

  get port(): number {
    return this.#port;
  }

  /** Whether the postmaster process runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /**
   * Fills the data directory (`prepare`, by default a copy of the template),
   * picks a free port and starts; retries on another port if it was taken.
   * On failure the server is deleted.
   */
  async create(prepare?: () => Promise<void>): Promise<void> {
    this.workspace.servers.add(this);
    try {
      if (prepare) await prepare();
      else await copyDir(await templateOf(this.workspace), this.dataDir);
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
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  /** Starts the server on its port with its data; resolves once it accepts connections. */
  start(): Promise<void> {
    return this.#serial(() => this.#start());
  }

  /** Fast shutdown (SIGINT); resolves once the server is gone. The port stays reserved. */
  stop(): Promise<void> {
    return this.#serial(() => this.#stop("SIGINT"));
  }

  /** Immediate shutdown, then deletes data and log. Idempotent. */
  dispose(): Promise<void> {
    return this.#serial(async () => {
      if (this.#disposed) return;
      this.#disposed = true;
      await this.#stop("SIGQUIT");
      fs.rmSync(this.dataDir, { recursive: true, force: true });
      fs.rmSync(this.logFile, { force: true });
      this.workspace.servers.delete(this);
      releasePort(this.#port);
    });
  }

  /**
   * Sends SIGQUIT to the postmaster without waiting (exit handlers).
   *
   * @returns Its pid, or `undefined` when it does not run.
   */
  killSync(): number | undefined {
    const pid = this.#child?.pid;
    if (pid === undefined) return undefined;
    try {
      process.kill(pid, "SIGQUIT");
    } catch { /* already gone */ }
    return pid;
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #start(): Promise<void> {
    if (this.#disposed) throw new Error(`server ${this.dataDir} is disposed`);
    if (this.#child) return;
    const ws = this.workspace;
    fs.appendFileSync(
      this.logFile,
      `--- start on port ${this.#port} at ${new Date().toISOString()}\n`,
    );
    if (ws.runAs) fs.chownSync(this.logFile, ws.runAs.uid, ws.runAs.gid);
    // `exec` keeps the pid: the child is the postmaster itself. The shell only
    // redirects the output into the log file, which works the same in all runtimes.
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        'exec "$0" "$@" >>"$PGDBPOOL_LOG" 2>&1',
        ws.bin.postgres,
        "-D",
        this.dataDir,
        "-p",
        String(this.#port),
      ],
      { cwd: ws.dir, env: serverEnv({ PGDBPOOL_LOG: this.logFile }), stdio: "ignore", ...ws.runAs },
    );
    // Not detached: the postmaster stays in our process group, so a Ctrl-C reaches it too.
    child.unref();
    this.#child = child;
    let exitCode: number | string | null | undefined;
    const gone = (code: number | string | null): void => {
      exitCode = code;
      if (this.#child === child) this.#child = undefined;
    };
    this.#exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => (gone(code ?? signal), resolve()));
      child.once("error", (err) => (gone(String(err)), resolve()));
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
}
