/**
 * Small process and file helpers the server code shares: running a program
 * into a log, copying a data directory, reading `postmaster.pid`, waiting.
 *
 * @module
 */

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type RunAs, serverEnv } from "./binaries.ts";

/** Poll interval of every wait on a server's state. */
export const POLL_MS = 10;

/**
 * Runs a program (as `runAs` when root), its output appended to `logFile`.
 *
 * @returns Resolves when it exits with 0.
 * @throws {Error} When it fails, with the log's tail.
 */
export function runLogged(
  file: string,
  args: string[],
  opts: { cwd: string; logFile: string; runAs: RunAs },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(opts.logFile, "a");
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: serverEnv({}),
      stdio: ["ignore", "pipe", "pipe"],
      ...opts.runAs,
    });
    // Pipes, not the fd itself: Deno's child_process takes no numeric stdio.
    child.stdout?.on("data", (b) => fs.writeSync(fd, b));
    child.stderr?.on("data", (b) => fs.writeSync(fd, b));
    child.once("error", (err) => {
      fs.closeSync(fd);
      reject(err);
    });
    child.once("close", (code, signal) => {
      fs.closeSync(fd);
      if (code === 0) return resolve();
      const name = path.basename(file);
      reject(new Error(`${name} failed (${code ?? signal}):\n${logTail(opts.logFile)}`));
    });
  });
}

/**
 * `cp -a`: keeps owner and modes (a data directory must be 0700 and owned by
 * the server's user).
 *
 * @throws {Error} When the copy fails.
 */
export function copyDir(from: string, to: string): Promise<void> {
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

/**
 * Reads `postmaster.pid`: line 1 the pid, line 8 the status (`starting`,
 * `ready`, `standby`, `stopping`).
 *
 * @returns Pid and state, or `undefined` when there is no such file.
 */
export function readPidFile(file: string): { pid: number; state: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  return { pid: Number(lines[0]), state: (lines[7] ?? "").trim() };
}

/**
 * Whether process `pid` runs; a zombie (exited, not yet reaped) counts as gone.
 *
 * @returns `true` while it runs.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

/**
 * The command line of `pid` (Linux), to tell our postmaster from a reused pid.
 *
 * @returns The arguments joined by spaces, or `""`.
 */
export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * The last lines of a log file, for error messages.
 *
 * @returns The lines, or `"(no log)"`.
 */
export function logTail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Waits `ms` milliseconds.
 *
 * @returns Resolves after `ms`.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits synchronously until `done()` or the timeout, without spinning
 * (`Atomics.wait` works on the main thread in Deno, Bun and Node). For exit
 * handlers, where nothing asynchronous runs any more.
 */
export function waitSync(done: () => boolean, timeoutMs: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) Atomics.wait(cell, 0, 0, POLL_MS);
}

/**
 * SIGQUIT (immediate shutdown) to each pid, then waits synchronously until all are gone.
 *
 * @param pids Postmaster pids.
 * @param timeoutMs How long to wait at most.
 */
export function quitSync(pids: number[], timeoutMs: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGQUIT");
    } catch { /* already gone */ }
  }
  waitSync(() => pids.every((pid) => !isAlive(pid)), timeoutMs);
}
