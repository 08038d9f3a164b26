/**
 * What a test gets when it asks for a PostgreSQL server: the shapes, shared by
 * servers from the environment and embedded ones.
 *
 * @module
 */

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

/** A server owned by one caller: `startPrivateServer()`. */
export type PrivateTestServer = TestServer & {
  /** Stops the server (immediate shutdown) and deletes its data. Idempotent. */
  dispose(): Promise<void>;
};

/** Options of `startPrivateServer()`. */
export interface PrivateServerOptions {
  /**
   * Serve TLS (`ssl = on`; plaintext is still accepted): a self-signed CA and
   * a server certificate it signed, naming IP `127.0.0.1` and DNS `localhost`
   * (or `altNames`), are made for this server with `openssl`. Rejects, saying why, when
   * `tlsUnavailable()` returns a reason.
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

/** A private server that serves TLS: `startPrivateServer({ tls: true })`. */
export type TlsTestServer = PrivateTestServer & {
  /** Its CA and certificate. */
  readonly tls: TestServerTls;
};

/** A hot standby streaming from a private primary: `startPrivateStandby()`. */
export type StandbyTestServer = PrivateTestServer & {
  /** Promotes the standby (`pg_promote()`, waiting until it is done). */
  promote(): Promise<void>;
};

/**
 * `postgres://user:password@host:port/database`, user, password and database
 * URL-encoded, an IPv6 host in brackets.
 *
 * @returns The URL.
 */
export function makeUrl(
  p: { host: string; port: number; user: string; password: string; database: string },
): string {
  const host = p.host.includes(":") ? `[${p.host}]` : p.host;
  const auth = `${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}`;
  return `postgres://${auth}@${host}:${p.port}/${encodeURIComponent(p.database)}`;
}
