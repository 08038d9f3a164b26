/**
 * TLS for test servers: a fresh self-signed CA and a server certificate it
 * signed, made with the `openssl` command-line tool (`PGDBPOOL_OPENSSL` names
 * another program), and the server settings that serve them.
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type RunAs, serverEnv } from "../../src/testing/binaries.ts";
import type { TestServerTls, TestTlsOptions } from "./test_server.ts";

const DEFAULT_ALT_NAMES: readonly string[] = ["IP:127.0.0.1", "DNS:localhost"];

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
 * Makes a CA and a server certificate in the (stopped) data directory
 * `dataDir` and turns `ssl` on there. The CA's key is deleted once it has signed.
 *
 * @returns The certificates.
 * @throws {TypeError} When `altNames` is empty or malformed.
 * @throws {Error} When openssl fails.
 */
export async function configureTls(
  dataDir: string,
  runAs: RunAs,
  options: TestTlsOptions,
): Promise<TestServerTls> {
  const files = await makeCertificates(dataDir, options.altNames ?? DEFAULT_ALT_NAMES);
  fs.appendFileSync(
    path.join(dataDir, "postgresql.conf"),
    `\n# pgdbpool test harness: TLS\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n`,
  );
  if (runAs) {
    for (const f of ["server.crt", "server.key", "ca.crt"]) {
      fs.chownSync(path.join(dataDir, f), runAs.uid, runAs.gid);
    }
  }
  return Object.freeze(files);
}

function opensslProgram(): string {
  return process.env.PGDBPOOL_OPENSSL || "openssl";
}

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
async function makeCertificates(dir: string, altNames: readonly string[]): Promise<TestServerTls> {
  if (altNames.length === 0 || altNames.some((n) => !/^(?:IP|DNS):[\w.:*-]+$/.test(n))) {
    throw new TypeError(
      `altNames: expected entries like "DNS:localhost" or "IP:127.0.0.1", got ${
        JSON.stringify(altNames)
      }`,
    );
  }
  const scratch = fs.mkdtempSync(path.join(dir, "tls-"));
  const at = (f: string) => path.join(scratch, f);
  const openssl = (...args: string[]) =>
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
  const conf = ["-config", at("openssl.cnf")];
  // A distinct CA name per server, so no two test servers' CAs can be confused.
  const tag = randomBytes(6).toString("hex");
  try {
    fs.writeFileSync(at("openssl.cnf"), opensslConf(altNames));
    await openssl(
      "req",
      "-x509",
      ...conf,
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
    );
    await openssl(
      "req",
      "-new",
      ...conf,
      ...newKey,
      "-keyout",
      at("server.key"),
      "-out",
      at("server.csr"),
      "-subj",
      "/CN=localhost",
    );
    await openssl(
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
    );
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
