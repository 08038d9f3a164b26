/**
 * The scaffolding of an integration `describe` on the first shared server:
 * the server fetched before its tests, and every pool its tests make ended
 * after them, so a failed test leaves no session behind.
 *
 * @module
 */
import { after, before } from "node:test";
import { sharedServers, type TestServer } from "./servers.ts";

/** What a describe's tests reach through {@linkcode serverScope}. */
export interface ServerScope {
  /** The first shared server (set before the first test). */
  readonly server: TestServer;
  /** Keeps `pool` to end after the describe's tests; returns it. */
  keep<P extends { end(): Promise<void> }>(pool: P): P;
}

/** Work around the scope's own: on the server once fetched, and once every pool has ended. */
export interface ServerScopeHooks {
  /** Runs before the tests, once the server is known (tables, roles). */
  setUp?(server: TestServer): Promise<void>;
  /** Runs after the tests, once every kept pool has ended (drops). */
  tearDown?(server: TestServer): Promise<void>;
}

/**
 * Registers, in the calling `describe`, a `before` that fetches the first
 * shared server and an `after` that ends every kept pool (then `tearDown`).
 *
 * @example A describe whose pools end after its tests
 * ```ts ignore
 * describe("the pool over postgres.js", () => {
 *   const scope = serverScope();
 *   it("answers", async () => {
 *     const pool = scope.keep(createPool({ db: endpointOf(scope.server), driver: postgresjs() }));
 *     assert.equal((await pool.query("SELECT 1 AS n")).rows[0].n, 1);
 *   });
 * });
 * ```
 */
export function serverScope(hooks: ServerScopeHooks = {}): ServerScope {
  let server: TestServer | undefined;
  const pools: { end(): Promise<void> }[] = [];
  before(async () => {
    [server] = await sharedServers();
    await hooks.setUp?.(server);
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    if (server) await hooks.tearDown?.(server);
  });
  return {
    get server(): TestServer {
      if (!server) throw new Error("serverScope: the server is fetched in before()");
      return server;
    },
    keep(pool) {
      pools.push(pool);
      return pool;
    },
  };
}
