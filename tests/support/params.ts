/**
 * How tests address a test server: as the driver contract's `ConnectParams`
 * (driver tests) or as a pool config endpoint (pool tests, the demo).
 */
import type { ConnectParams, EndpointInput } from "../../mod.ts";
import type { TestServer } from "./servers.ts";

/** `ConnectParams` for `server`: no TLS, 10 s connect timeout, no settings, then `overrides`. */
export function connectParams(
  server: TestServer,
  overrides: Partial<ConnectParams> = {},
): ConnectParams {
  return {
    host: server.host,
    port: server.port,
    database: server.database,
    user: server.user,
    password: server.password,
    ssl: "disable",
    sslRootCert: undefined,
    connectTimeoutMs: 10_000,
    settings: {},
    ...overrides,
  };
}

/** A pool config endpoint (seed-style keys) for `server`, then `extra`. */
export function endpointOf(server: TestServer, extra: EndpointInput = {}): EndpointInput {
  return {
    host: server.host,
    port: server.port,
    name: server.database,
    user: server.user,
    pass: server.password,
    ...extra,
  };
}
