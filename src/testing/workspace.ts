/**
 * A workspace: one temporary folder holding the data directories and logs of
 * some embedded servers, one `initdb` template they are copied from, and the
 * clean-up that removes it all when the process ends, however it ends.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findBinaries, type RunAs, type ServerBinaries, serverOsUser } from "./binaries.ts";
import { quitSync, runLogged } from "./processes.ts";

/** Prefix of every workspace folder (crash clean-up looks for it). */
export const WORKSPACE_PREFIX = "pgdbpool-test-";

/** How long an exit handler waits for servers to go. */
export const STOP_TIMEOUT_MS = 30_000;

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

/** What a workspace's servers can kill synchronously at exit. */
export interface Killable {
  /** Sends SIGQUIT to the postmaster, if it runs. @returns Its pid, or `undefined`. */
  killSync(): number | undefined;
}

/** One temporary folder of servers. */
export interface Workspace {
  /** The folder (`<parent>/pgdbpool-test-XXXXXX`), holding `owner.pid`. */
  readonly dir: string;
  /** The superuser `postgres`'s password on every server made from the template. */
  readonly password: string;
  readonly bin: ServerBinaries;
  readonly runAs: RunAs;
  /** Servers living in this folder, killed at exit. */
  readonly servers: Set<Killable>;
  /** The initdb'd template, made on first use unless given. */
  template: Promise<string> | undefined;
  /** Counter for server names. */
  serial: number;
}

/** Options of {@linkcode createWorkspace}. */
export interface WorkspaceOptions {
  /** Parent folder. @default {os.tmpdir()} */
  parent?: string;
  /** Password of the superuser. @default {a random one} */
  password?: string;
  /** An existing template (never started) and its password, to copy instead of running initdb. */
  template?: { dir: string; password: string };
}

const live = new Set<Workspace>();
let exitHooked = false;

/**
 * Makes a workspace folder; it is deleted by {@linkcode disposeWorkspaceSync}
 * or, at the latest, when the process (under `deno test`: the test module) ends.
 *
 * @returns The workspace.
 * @throws {Error} When the binaries cannot be found (naming how to install them).
 */
export async function createWorkspace(options: WorkspaceOptions = {}): Promise<Workspace> {
  const runAs = serverOsUser();
  const bin = await findBinaries(runAs);
  const parent = options.parent ?? os.tmpdir();
  const dir = fs.mkdtempSync(path.join(parent, WORKSPACE_PREFIX));
  fs.writeFileSync(path.join(dir, "owner.pid"), `${process.pid}\n`);
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  const given = options.template;
  const useGiven = !!given && fs.existsSync(path.join(given.dir, "PG_VERSION"));
  const ws: Workspace = {
    dir,
    password: useGiven ? given.password : options.password ?? randomBytes(12).toString("base64url"),
    bin,
    runAs,
    servers: new Set(),
    template: useGiven ? Promise.resolve(given.dir) : undefined,
    serial: 0,
  };
  live.add(ws);
  hookExit();
  startGuard(dir);
  return ws;
}

/**
 * The workspace's template cluster: initdb once (~0.5 s); every server starts
 * from a copy (~0.1 s).
 *
 * @returns Its data directory.
 * @throws {Error} When initdb fails, with its log.
 */
export function templateOf(ws: Workspace): Promise<string> {
  ws.template ??= (async () => {
    const dir = path.join(ws.dir, "template");
    const pwfile = path.join(ws.dir, "pwfile");
    fs.writeFileSync(pwfile, `${ws.password}\n`, { mode: 0o600 });
    if (ws.runAs) fs.chownSync(pwfile, ws.runAs.uid, ws.runAs.gid);
    try {
      await runLogged(ws.bin.initdb, [
        `--pgdata=${dir}`,
        "--username=postgres",
        "--auth=scram-sha-256",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
      ], { cwd: ws.dir, logFile: path.join(ws.dir, "initdb.log"), runAs: ws.runAs });
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
    fs.appendFileSync(path.join(dir, "postgresql.conf"), SERVER_CONF);
    return dir;
  })();
  ws.template.catch(() => (ws.template = undefined));
  return ws.template;
}

/**
 * Kills the workspace's servers (SIGQUIT), waits until they are gone and
 * deletes the folder. Synchronous, so it also works in exit handlers. Idempotent.
 */
export function disposeWorkspaceSync(ws: Workspace): void {
  if (!live.delete(ws)) return;
  const pids = [...ws.servers].map((s) => s.killSync()).filter((p) => p !== undefined);
  quitSync(pids, STOP_TIMEOUT_MS);
  ws.servers.clear();
  try {
    fs.rmSync(ws.dir, { recursive: true, force: true });
  } catch { /* best effort */ }
}

/**
 * A watchdog shell, detached from this process: once this process is gone
 * (whatever killed it: an uncaught error under `deno run` fires no exit
 * event, SIGKILL fires none anywhere), it stops the postmasters under `dir`
 * and deletes it. It ends by itself when the folder is deleted first.
 */
function startGuard(dir: string): void {
  const script = `
while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 0.5; done
[ -d "$2" ] || exit 0
for f in "$2"/*/postmaster.pid; do
  [ -f "$f" ] || continue
  pid=$(head -n 1 "$f")
  grep -qF "$2" "/proc/$pid/cmdline" 2>/dev/null && kill -QUIT "$pid" 2>/dev/null
done
for i in $(seq 1 300); do
  alive=0
  for f in "$2"/*/postmaster.pid; do
    [ -f "$f" ] && kill -0 "$(head -n 1 "$f")" 2>/dev/null && alive=1
  done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
rm -rf "$2"`;
  try {
    const guard = spawn("/bin/sh", ["-c", script, "pgdbpool-guard", String(process.pid), dir], {
      detached: true,
      stdio: "ignore",
    });
    guard.on("error", () => {/* no shell: the exit handlers remain */});
    guard.unref();
  } catch { /* no shell: the exit handlers remain */ }
}

/**
 * `deno test` fires `unload` at the end of each test module (and never
 * `process.on("exit")`); `bun test` and Node fire `process.on("exit")`. Both
 * lead to the same idempotent, synchronous clean-up.
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const all = (): void => {
    for (const ws of [...live]) disposeWorkspaceSync(ws);
  };
  process.on("exit", all);
  if (typeof globalThis.addEventListener === "function" && "Deno" in globalThis) {
    globalThis.addEventListener("unload", all);
  }
}
