/**
 * SQL as superuser on a test server, through a short-lived postgres.js session.
 *
 * @module
 */

/** What {@linkcode adminQuery} needs to reach a server. */
export interface AdminTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

type PostgresFactory = typeof import("postgres");
let loading: Promise<PostgresFactory> | undefined;

/**
 * A postgres.js client of one superuser session on `server`, opened on its first query.
 *
 * @param server Where to connect.
 * @returns The client; `end()` it.
 */
export async function adminClient(server: AdminTarget): Promise<ReturnType<PostgresFactory>> {
  loading ??= import("postgres").then((m) => m.default as PostgresFactory);
  // A failed import is not cached: the next call tries again.
  loading.catch(() => (loading = undefined));
  const postgres = await loading;
  return postgres({
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
}

/**
 * Runs `sql` on `server` in a fresh session that is closed afterwards.
 * Without `params` the simple-query protocol is used (several statements
 * allowed; then the result holds one array per statement).
 *
 * @returns The rows, as plain objects.
 * @throws {Error} The server's or the connection's error.
 */
export async function adminQuery(
  server: AdminTarget,
  sql: string,
  params?: unknown[],
): Promise<Record<string, unknown>[]> {
  const client = await adminClient(server);
  try {
    // deno-lint-ignore no-explicit-any
    const rows = params ? await client.unsafe(sql, params as any[]) : await client.unsafe(sql);
    return Array.from(rows) as Record<string, unknown>[];
  } finally {
    await client.end({ timeout: 5 });
  }
}
