/**
 * TLS given something broken, against a real server with TLS, over every
 * driver of this runtime: `sslrootcert` that is PEM in shape but holds no
 * certificate (bad base64, a truncated one, a private key, an empty block),
 * and the right CA with a wrong password. Each fails as a typed error (no driver error or
 * unhandled rejection escapes), the password in the URL shows nowhere, and the
 * pool serves once the endpoint is set right.
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { ConnectionError, createPool, OfflineError, type Pool } from "../../mod.ts";
import { startPrivateServer, tlsUnavailable } from "../support/servers.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const noTls = tlsUnavailable();
const server = noTls === undefined ? await startPrivateServer({ tls: true }) : undefined;
const SECRET_PART = `tl${randomBytes(6).toString("hex")}`;

const BROKEN_CAS: [string, string][] = [
  ["bad base64", "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n"],
  ["an empty block", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"],
  ["a certificate without its end", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n"],
  [
    "a private key",
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEhQ1Vp0x0Q9kq8d1Kz9r0YbJ2m4QmW3mFZl2c6bq8xq\n-----END PRIVATE KEY-----\n",
  ],
];

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

// Each test skips itself without TLS: Bun leaves a skipped describe out of its report.
const skip = noTls ?? false;

describe("TLS given something broken", () => {
  after(async () => {
    await server?.dispose();
  });

  for (const driver of runtimeDrivers()) {
    describe(`over ${driver.name}`, () => {
      const pools: Pool[] = [];
      const processLike = globalThis as { process?: NodeJS.Process };

      after(async () => {
        await Promise.allSettled(pools.map((p) => p.end()));
      });

      function urlOf(password: string, params: string): string {
        const { host, port, database, user } = server!;
        return `postgres://${user}:${
          encodeURIComponent(password)
        }@${host}:${port}/${database}?connect_timeout=5&${params}`;
      }

      function pool(db: string): Pool {
        const p = createPool({
          db,
          groups: { g: { connection_count: 1 } },
          driver: driver.make(),
          acquireTimeoutMs: 10_000,
        });
        pools.push(p);
        return p;
      }

      async function assertTypedAndHidden(p: Pool, what: string): Promise<void> {
        const err = await p.withHandler("g", (db) => db.query("SELECT 1")).then(
          () => assert.fail(`${what}: connected`),
          (e: unknown) => e,
        );
        assert.ok(
          err instanceof ConnectionError || err instanceof OfflineError,
          `${what}: expected ConnectionError or OfflineError, got ${inspect(err)}`,
        );
        for (
          const text of [inspect(err, { depth: 20, showHidden: true }), JSON.stringify(p.stats())]
        ) {
          assert.ok(
            !text.includes(SECRET_PART),
            `${what}: the password shows in ${text.slice(0, 2000)}`,
          );
        }
      }

      it(
        "a CA that is PEM in shape but no certificate: a typed error per case, at once, and nothing unhandled",
        { skip },
        async () => {
          processLike.process?.on("unhandledRejection", onUnhandled);
          try {
            const wrong = `${SECRET_PART}-wrong`;
            await Promise.all(
              BROKEN_CAS.flatMap(([what, pem]) =>
                ["verify-full", "verify-ca", "require"].map((mode) =>
                  assertTypedAndHidden(
                    pool(urlOf(wrong, `sslmode=${mode}&sslrootcert=${encodeURIComponent(pem)}`)),
                    `${what} with sslmode ${mode}`,
                  )
                )
              ),
            );
            await new Promise((resolve) => setTimeout(resolve, 50));
            assert.deepEqual(unhandled.map(String), []);
          } finally {
            processLike.process?.off("unhandledRejection", onUnhandled);
          }
        },
      );

      it("the right CA with a wrong password: typed, hidden", { skip }, async () => {
        const ca = encodeURIComponent(server!.tls.caPem);
        await Promise.all([
          assertTypedAndHidden(
            pool(urlOf(`${SECRET_PART}-wrong`, `sslmode=verify-full&sslrootcert=${ca}`)),
            "a wrong password over verified TLS",
          ),
        ]);
      });

      it(
        "after all that, the same pool serves once setEndpoints() gives the right CA",
        { skip },
        async () => {
          const p = pool(
            urlOf(
              `${SECRET_PART}-wrong`,
              "sslmode=verify-full&sslrootcert=" + encodeURIComponent(BROKEN_CAS[0][1]),
            ),
          );
          await assertTypedAndHidden(p, "a broken CA");
          p.setEndpoints(
            urlOf(
              server!.password,
              `sslmode=verify-full&sslrootcert=${encodeURIComponent(server!.tls.caPem)}`,
            ),
          );
          const { rows } = await p.withHandler(
            "g",
            (db) => db.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
          );
          assert.equal(rows[0].ssl, true);
        },
      );
    });
  }
});
