/**
 * TLS through the pool, against real PostgreSQL: each `ssl` mode given in the
 * pool's config (`db.ssl`, `db.sslrootcert`, a URL's `sslmode`, `PGSSLMODE`)
 * must really reach the driver. Registered once per driver by that driver's
 * test file (`driver_<driver>_test.ts`).
 *
 * The server with TLS is an embedded one whose self-signed CA and server
 * certificate (naming IP 127.0.0.1 and DNS localhost) are made at test time
 * with the `openssl` program (`startPrivateServer({ tls: true })`); a second
 * one's certificate names another host only. Without `openssl` the tests that
 * need such a server are skipped, with the reason printed loudly; the
 * "server without TLS" tests still run.
 *
 * A driver either accepts a certificate it cannot verify when the mode does
 * not ask it to verify (postgres.js, node-postgres, Bun.SQL), or verifies
 * anyway (deno-postgres): its `prefer` and `require` against an untrusted
 * certificate are then tested for what it does instead.
 *
 * @module
 */
import { after, describe } from "node:test";
import assert from "node:assert/strict";
import dns from "node:dns/promises";
import { X509Certificate } from "node:crypto";
import { inspect } from "node:util";
import {
  ConnectionError,
  createPool,
  type Driver,
  OfflineError,
  type Pool,
  type PoolConfigInput,
} from "../../mod.ts";
import type { EndpointInput } from "../../src/config/normalize.ts";
import { configFromEnv } from "../../src/config/env.ts";
import {
  adminQuery,
  type PrivateTestServer,
  sharedServers,
  startPrivateServer,
  type TestServer,
  type TlsTestServer,
  tlsUnavailable,
} from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { gappedTests } from "../support/gapped_tests.ts";

const SUITE = "TLS through the pool";
/** A test body. */
type TestBody = () => void | Promise<void>;

const SSL_OF_SESSION = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/** What a driver does with a certificate it cannot verify when the mode does not ask it to verify. */
export type Unverified = "accepts" | "verifies anyway";

/** Options of {@linkcode tlsSuite}. */
export interface TlsSuiteOptions {
  /** `prefer` / `require` without a CA against a self-signed certificate (default `"accepts"`). */
  unverified?: Unverified;
  /** Known gaps of the driver: test title → the reason it cannot pass (the test is skipped). */
  gaps?: Readonly<Record<string, string>>;
  /**
   * Also check the certificates of the servers the suite starts (a check of
   * the test support, not of the driver: one driver file per runtime asks).
   */
  checkTestServers?: boolean;
}

let serial = 0;

/**
 * Registers the TLS suite for one driver. Starts its servers in the
 * background, not in a before() hook (Bun gives hooks 5 s whatever their
 * options, and a first start, initdb, can take longer): each test waits for
 * them, so a file that registers the suite after its other tests hides the
 * start behind them. The suite's after() disposes them.
 *
 * @example A driver that verifies certificates whatever the mode
 * ```ts ignore
 * await tlsSuite("mydriver", () => myDriver(), { unverified: "verifies anyway" });
 * ```
 */
export async function tlsSuite(
  name: string,
  makeDriver: () => Driver,
  options: TlsSuiteOptions = {},
): Promise<void> {
  const unverified = options.unverified ?? "accepts";

  const noTls = tlsUnavailable();
  if (noTls !== undefined) {
    console.warn(
      [
        "",
        "=".repeat(78),
        `  SKIPPED: the ${SUITE} tests over ${name} that need a server with TLS`,
        `  (tests/integration/tls_suite.ts): ${noTls}`,
        "=".repeat(78),
        "",
      ].join("\n"),
    );
  }

  // The DNS-name case needs localhost to reach the server, which listens on 127.0.0.1 only.
  const localhostSkip = await dns.lookup("localhost", { all: true }).then(
    (addrs) =>
      addrs.some((a) => a.address === "127.0.0.1")
        ? false
        : "localhost does not resolve to 127.0.0.1 here",
    (err) => `localhost does not resolve here (${(err as Error).message})`,
  );

  // A certificate for 127.0.0.1 and localhost; another for db.invalid only; a server without TLS.
  // They start while the file's other tests run (register the suite last), not here before it
  // returns nor in a before() hook (Bun gives hooks 5 s whatever their options, and a first start,
  // initdb, can take longer): each test of the suite waits for them first.
  let tlsServer: TlsTestServer | undefined;
  let otherNameServer: TlsTestServer | undefined;
  let privatePlain: PrivateTestServer | undefined;
  let plain: TestServer = undefined as unknown as TestServer;
  const started = (async () => {
    [tlsServer, otherNameServer] = noTls === undefined
      ? await Promise.all([
        startPrivateServer({ tls: true }),
        startPrivateServer({ tls: { altNames: ["DNS:db.invalid"] } }),
      ])
      : [undefined, undefined];
    const shared = (await sharedServers())[0];
    // A shared server given through the environment may have TLS on: then start one without.
    privatePlain =
      (await adminQuery(shared, "SELECT current_setting('ssl') AS ssl"))[0].ssl === "on"
        ? await startPrivateServer()
        : undefined;
    plain = privatePlain ?? shared;
  })();
  // A failed start fails every test that waits for it, not the process.
  started.catch(() => {});

  // Every test goes through this `it` so that a declared gap skips it, with its reason, and so
  // that it waits for the servers.
  const gapped = gappedTests("tlsSuite", name, options.gaps);
  const checkGaps = gapped.checkGaps;
  function it(title: string, fn: TestBody): void;
  function it(title: string, options: { skip: string | false }, fn: TestBody): void;
  function it(title: string, ...rest: [{ skip: string | false }, TestBody] | [TestBody]): void {
    const body = rest[rest.length - 1] as TestBody;
    const afterStart = async () => {
      await started;
      await body();
    };
    if (rest.length === 2) gapped.it(title, rest[0], afterStart);
    else gapped.it(title, afterStart);
  }

  describe(SUITE, () => {
    const pools: Pool[] = [];

    after(async () => {
      await started.catch(() => {});
      await Promise.allSettled(pools.map((p) => p.end()));
      await Promise.allSettled([
        tlsServer?.dispose(),
        otherNameServer?.dispose(),
        privatePlain?.dispose(),
      ]);
    });

    const needsTls = { skip: noTls ?? (false as const) };

    function endpoint(server: TestServer, extra: Partial<EndpointInput> = {}): EndpointInput {
      return endpointOf(server, {
        connect_timeout: 5,
        application_name: `tls_test_${++serial}`,
        ...extra,
      });
    }

    function pool(db: PoolConfigInput["db"]): Pool {
      const p = createPool({
        db,
        groups: { g: { connection_count: 1 } },
        driver: makeDriver(),
        acquireTimeoutMs: 15_000,
      });
      pools.push(p);
      return p;
    }

    /** `pg_stat_ssl.ssl` of the session the pool hands out. */
    async function sessionSsl(p: Pool): Promise<boolean> {
      const { rows } = await p.withHandler("g", (db) => db.query(SSL_OF_SESSION));
      return rows[0].ssl as boolean;
    }

    /**
     * Asserts that leasing fails with the pool's connect-failure error, that the
     * message or a cause matches `why`, and that the password shows nowhere.
     */
    async function assertRefused(p: Pool, why: RegExp, password: string): Promise<void> {
      await assert.rejects(
        p.withHandler("g", (db) => db.query("SELECT 1")),
        (err: unknown) => {
          assert.ok(
            err instanceof OfflineError || err instanceof ConnectionError,
            `expected OfflineError or ConnectionError, got ${inspect(err)}`,
          );
          const chain = messages(err);
          assert.match(chain, why, `the error does not say why: ${chain}`);
          assert.ok(!chain.includes(password), `the password shows in: ${chain}`);
          return true;
        },
      );
      const [endpointStats] = p.stats().endpoints;
      assert.equal(endpointStats.up, false);
      assert.match(String(endpointStats.lastError), why);
    }

    if (options.checkTestServers) {
      it(
        "startPrivateServer({ tls: true }) serves a certificate for 127.0.0.1 and localhost signed by tls.caPem",
        needsTls,
        async () => {
          const server = tlsServer!;
          const rows = await adminQuery(server, "SELECT current_setting('ssl') AS ssl");
          assert.equal(rows[0].ssl, "on");
          const cert = new X509Certificate(server.tls.certPem);
          const ca = new X509Certificate(server.tls.caPem);
          assert.ok(cert.verify(ca.publicKey), "server certificate not signed by the CA");
          assert.ok(cert.checkIssued(ca));
          assert.ok(cert.checkIP("127.0.0.1"), `no IP SAN 127.0.0.1: ${cert.subjectAltName}`);
          assert.ok(cert.checkHost("localhost"), `no DNS SAN localhost: ${cert.subjectAltName}`);
          assert.deepEqual(server.tls.altNames, ["IP:127.0.0.1", "DNS:localhost"]);
          const other = new X509Certificate(otherNameServer!.tls.certPem);
          assert.equal(other.checkIP("127.0.0.1"), undefined);
          assert.ok(!other.verify(ca.publicKey), "two servers must not share a CA");
        },
      );
    }

    describe(`over ${name}`, () => {
      it("ssl disable connects without TLS to a server that has it", needsTls, async () => {
        const p = pool(endpoint(tlsServer!, { ssl: "disable" }));
        assert.equal(await sessionSsl(p), false);
      });

      if (unverified === "accepts") {
        it("ssl prefer connects over TLS without verifying the certificate", needsTls, async () => {
          const p = pool(endpoint(tlsServer!, { ssl: "prefer" }));
          assert.equal(await sessionSsl(p), true);
        });

        it(
          "ssl require connects over TLS without verifying the certificate",
          needsTls,
          async () => {
            const p = pool(endpoint(tlsServer!, { ssl: "require" }));
            assert.equal(await sessionSsl(p), true);
          },
        );
      } else {
        it(
          "ssl prefer falls back to plaintext when the certificate cannot be verified (driver always verifies)",
          needsTls,
          async () => {
            const p = pool(endpoint(tlsServer!, { ssl: "prefer" }));
            assert.equal(await sessionSsl(p), false);
          },
        );

        it(
          "ssl require is refused when the certificate cannot be verified (driver always verifies)",
          needsTls,
          async () => {
            const p = pool(endpoint(tlsServer!, { ssl: "require" }));
            await assertRefused(
              p,
              /certificate|self[- ]signed|verif|issuer|unknown ?ca/i,
              tlsServer!.password,
            );
          },
        );

        it("ssl prefer and require connect over TLS when the CA is given", needsTls, async () => {
          for (const ssl of ["prefer", "require"] as const) {
            const p = pool(endpoint(tlsServer!, { ssl, sslrootcert: tlsServer!.tls.caPem }));
            assert.equal(await sessionSsl(p), true, ssl);
          }
        });
      }

      it(
        "ssl verify-full with the server's CA in sslrootcert connects over TLS to 127.0.0.1 (IP SAN)",
        needsTls,
        async () => {
          const p = pool(
            endpoint(tlsServer!, { ssl: "verify-full", sslrootcert: tlsServer!.tls.caPem }),
          );
          assert.equal(await sessionSsl(p), true);
        },
      );

      it("ssl verify-full with the server's CA connects over TLS to localhost (DNS SAN)", {
        skip: noTls ?? localhostSkip,
      }, async () => {
        const p = pool(endpoint(tlsServer!, {
          host: "localhost",
          ssl: "verify-full",
          sslrootcert: tlsServer!.tls.caPem,
        }));
        assert.equal(await sessionSsl(p), true);
      });

      it("ssl verify-ca with the server's CA connects over TLS", needsTls, async () => {
        const p = pool(
          endpoint(tlsServer!, { ssl: "verify-ca", sslrootcert: tlsServer!.tls.caPem }),
        );
        assert.equal(await sessionSsl(p), true);
      });

      it(
        "ssl verify-full without the CA is refused: OfflineError saying the certificate could not be verified",
        needsTls,
        async () => {
          const p = pool(endpoint(tlsServer!, { ssl: "verify-full" }));
          await assertRefused(
            p,
            /certificate|self[- ]signed|verif|issuer|unknown ?ca/i,
            tlsServer!.password,
          );
        },
      );

      it(
        "NODE_TLS_REJECT_UNAUTHORIZED=0 does not weaken verify-full or verify-ca",
        needsTls,
        async () => {
          const env = globalThis.process.env;
          const saved = env.NODE_TLS_REJECT_UNAUTHORIZED;
          env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
          try {
            for (const ssl of ["verify-full", "verify-ca"] as const) {
              const p = pool(endpoint(tlsServer!, { ssl }));
              await assertRefused(
                p,
                /certificate|self[- ]signed|verif|issuer|unknown ?ca/i,
                tlsServer!.password,
              );
            }
          } finally {
            if (saved === undefined) delete env.NODE_TLS_REJECT_UNAUTHORIZED;
            else env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
          }
        },
      );

      it(
        "ssl verify-full and verify-ca with another server's CA are refused",
        needsTls,
        async () => {
          for (const ssl of ["verify-full", "verify-ca"] as const) {
            const p = pool(endpoint(tlsServer!, { ssl, sslrootcert: otherNameServer!.tls.caPem }));
            await assertRefused(
              p,
              /certificate|self[- ]signed|verif|issuer|unknown ?ca/i,
              tlsServer!.password,
            );
          }
        },
      );

      it(
        "ssl verify-full refuses a certificate that names another host; verify-ca accepts it",
        needsTls,
        async () => {
          const server = otherNameServer!;
          const strict = pool(
            endpoint(server, { ssl: "verify-full", sslrootcert: server.tls.caPem }),
          );
          await assertRefused(
            strict,
            /altname|host ?name|match|not valid for|certificate/i,
            server.password,
          );
          const chainOnly = pool(
            endpoint(server, { ssl: "verify-ca", sslrootcert: server.tls.caPem }),
          );
          if (unverified === "accepts") {
            assert.equal(await sessionSsl(chainOnly), true);
          } else {
            // The driver checks the host name whatever the mode: verify-ca acts as verify-full.
            await assertRefused(
              chainOnly,
              /altname|host ?name|match|not valid for|certificate/i,
              server.password,
            );
          }
        },
      );

      it("ssl require with sslrootcert verifies the chain, as libpq does", needsTls, async () => {
        const good = pool(
          endpoint(tlsServer!, { ssl: "require", sslrootcert: tlsServer!.tls.caPem }),
        );
        assert.equal(await sessionSsl(good), true);
        const bad = pool(
          endpoint(tlsServer!, { ssl: "require", sslrootcert: otherNameServer!.tls.caPem }),
        );
        await assertRefused(
          bad,
          /certificate|self[- ]signed|verif|issuer|unknown ?ca/i,
          tlsServer!.password,
        );
      });

      it("sslmode in a connection URL and PGSSLMODE reach the driver", needsTls, async () => {
        const s = tlsServer!;
        const auth = `${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}`;
        const base = `postgres://${auth}@${s.host}:${s.port}/${s.database}`;
        // A driver that always verifies needs the CA for require too (sslrootcert is PEM here).
        const ca = unverified === "accepts" ? undefined : s.tls.caPem;
        const caParam = ca === undefined ? "" : `&sslrootcert=${encodeURIComponent(ca)}`;
        assert.equal(await sessionSsl(pool(`${base}?sslmode=require${caParam}`)), true);
        assert.equal(await sessionSsl(pool(`${base}?sslmode=disable`)), false);
        const vars: Record<string, string> = {
          PGHOST: s.host,
          PGPORT: String(s.port),
          PGUSER: s.user,
          PGPASSWORD: s.password,
          PGDATABASE: s.database,
          PGSSLMODE: "require",
        };
        const fromEnv = configFromEnv((name) => vars[name]).db as EndpointInput;
        const db = ca === undefined ? fromEnv : { ...fromEnv, sslrootcert: ca };
        assert.equal(await sessionSsl(pool(db)), true);
      });

      it("ssl require against a server without TLS is refused, saying the server has no TLS", async () => {
        const p = pool(endpoint(plain, { ssl: "require" }));
        await assertRefused(p, /TLS|SSL/, plain.password);
      });

      it("ssl verify-full against a server without TLS is refused", async () => {
        const p = pool(endpoint(plain, { ssl: "verify-full", sslrootcert: tlsServer?.tls.caPem }));
        await assertRefused(p, /TLS|SSL/, plain.password);
      });

      it("ssl prefer and allow fall back to plaintext against a server without TLS", async () => {
        for (const ssl of ["prefer", "allow"] as const) {
          const p = pool(endpoint(plain, { ssl }));
          assert.equal(await sessionSsl(p), false, ssl);
        }
      });
    });

    checkGaps();
  });
}

/** Every message and stack along the cause chain, and the error's inspected form. */
function messages(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e);) {
    seen.add(e);
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") parts.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join("\n");
}
