/**
 * One superuser session kept open on a test server, for a test that asks
 * the server often or must act at a precise moment (poll `pg_stat_activity`,
 * then kill): `adminQuery` opens a session per call, whose start (SCRAM
 * authentication) takes long on a busy machine.
 *
 * @module
 */
import type { TestServer } from "./test_server.ts";
import { adminClient } from "../../src/testing/admin_sql.ts";

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
  const client = adminClient(server);
  // Handled here too: a failed open reaches the caller through query(), never unhandled.
  client.catch(() => {});
  return {
    async query(sql, params = []) {
      // deno-lint-ignore no-explicit-any
      const rows = await (await client).unsafe(sql, params as any[]);
      return Array.from(rows) as Record<string, unknown>[];
    },
    end: async () => {
      await (await client).end({ timeout: 5 });
    },
  };
}
