/**
 * One superuser session kept open on a test server, for a test that asks
 * the server often or must act at a precise moment (poll `pg_stat_activity`,
 * then kill): `adminQuery` opens a session per call, whose start (SCRAM
 * authentication) takes long on a busy machine.
 *
 * @module
 */
import postgres from "postgres";
import type { TestServer } from "./test_server.ts";

/** A kept admin session; see the module documentation. */
export interface AdminSession {
  /** Runs `sql` (extended protocol, with `params`) and returns its rows as plain objects. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Closes the session (waits up to 5 s for a query still running). */
  end(): Promise<void>;
}

/**
 * Opens (on the first query) one superuser session on `server`.
 *
 * @example Poll a pool's backends without a new session per poll
 * ```ts ignore
 * const admin = adminSession(server);
 * const rows = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity");
 * await admin.end();
 * ```
 */
export function adminSession(server: TestServer): AdminSession {
  const client = postgres({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    max: 1,
    connect_timeout: 10,
    idle_timeout: 0,
    max_lifetime: 0,
    fetch_types: false,
    connection: { application_name: "pgdbpool-testing-admin" },
    onnotice: () => {},
  });
  return {
    async query(sql, params = []) {
      // deno-lint-ignore no-explicit-any
      return Array.from(await client.unsafe(sql, params as any[])) as Record<string, unknown>[];
    },
    end: () => client.end({ timeout: 5 }),
  };
}
