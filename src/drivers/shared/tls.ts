/**
 * The libpq TLS modes, decided once: whether to ask for TLS, whether to go on
 * in plaintext when the server has none, and what to verify. Each adapter
 * only spells the answer in its client's options.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { SslMode } from "../../driver.ts";

/** What a TLS mode asks for. */
export interface TlsPolicy {
  /** Ask the server for TLS. */
  readonly request: boolean;
  /** Go on in plaintext when the server has no TLS (`allow`, `prefer`). */
  readonly fallback: boolean;
  /** Verify the certificate chain (against `ca`, else the system roots). */
  readonly verifyChain: boolean;
  /** Verify the host name too (`verify-full`). */
  readonly verifyHost: boolean;
  /** The PEM CA certificate(s) to verify with, if given. */
  readonly ca: string | undefined;
}

/**
 * The policy of a libpq TLS mode. As in libpq, `require` with a root
 * certificate verifies the chain (it becomes `verify-ca`); a Unix socket
 * never uses TLS.
 *
 * @param mode The `ssl` mode.
 * @param rootCert `sslRootCert`.
 * @param host The host: one starting with `/` is a Unix socket directory.
 * @returns The policy.
 */
export function tlsPolicy(mode: SslMode, rootCert: string | undefined, host: string): TlsPolicy {
  if (mode === "disable" || host.startsWith("/")) {
    return {
      request: false,
      fallback: false,
      verifyChain: false,
      verifyHost: false,
      ca: undefined,
    };
  }
  const verifyChain = mode === "verify-ca" || mode === "verify-full" ||
    (mode === "require" && rootCert !== undefined);
  return {
    request: true,
    fallback: mode === "allow" || mode === "prefer",
    verifyChain,
    verifyHost: mode === "verify-full",
    ca: verifyChain ? rootCert : undefined,
  };
}

/**
 * Node-style `tls.connect` options for a policy that requests TLS:
 * `rejectUnauthorized` always explicit (so `NODE_TLS_REJECT_UNAUTHORIZED`
 * cannot turn verification off), `ca`, and a `checkServerIdentity` that
 * accepts every name when only the chain is verified.
 *
 * @param policy The policy.
 * @returns The options (without host or SNI, which each client sets its own way).
 */
export function nodeTlsOptions(policy: TlsPolicy): Record<string, unknown> {
  const options: Record<string, unknown> = { rejectUnauthorized: policy.verifyChain };
  if (policy.verifyChain) {
    if (policy.ca !== undefined) options.ca = policy.ca;
    if (!policy.verifyHost) options.checkServerIdentity = acceptAnyName;
  }
  return options;
}

// A certificate check that accepts every host name (the chain is still verified).
function acceptAnyName(): undefined {
  return undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;

/**
 * Whether `pem` holds at least one PEM certificate, and only certificates:
 * each block base64 that decodes to a DER sequence. Checked before
 * connecting, because the runtimes differ on a bad one (Bun refuses it; Deno
 * prints a warning and goes on without it).
 *
 * @param pem The `sslRootCert` text.
 * @returns `true` when it can be used as a CA.
 */
export function isCertificatePem(pem: string): boolean {
  let blocks = 0;
  for (const match of pem.matchAll(PEM_CERT)) {
    const body = match[1].replace(/\s+/g, "");
    let der: string;
    try {
      der = atob(body);
    } catch {
      return false;
    }
    // A certificate is a DER SEQUENCE (0x30) of more than a few bytes.
    if (der.length < 64 || der.charCodeAt(0) !== 0x30) return false;
    blocks++;
  }
  return blocks > 0 && pem.replace(PEM_CERT, "").trim() === "";
}
