/**
 * Fault injection for the tests of apps that use pgdbpool: prove that your app
 * survives what the pool survives. `startProxy()` puts a TCP proxy between the
 * app and a server that can stall, refuse, delay or reset traffic on command.
 *
 * This entry is for tests only; the pool itself (`@x/pgdbpool`) never imports it.
 *
 * @example A query through a network that goes silent
 * ```ts
 * import { startProxy } from "@x/pgdbpool/testing";
 *
 * const proxy = await startProxy({ target: { host: "127.0.0.1", port: 5432 } });
 * try {
 *   // point one endpoint of the pool at proxy.host:proxy.port, then
 *   proxy.stall();
 *   // ... assert that the app answers with a timeout, not a hang ...
 *   proxy.pass();
 * } finally {
 *   await proxy.close();
 * }
 * ```
 *
 * @module
 */

export { startProxy } from "./proxy.ts";
export type { ProxyMode, ProxyOptions, ProxyTarget, TestProxy } from "./proxy.ts";
export { startCluster } from "./cluster.ts";
export type { BackendInfo, ClusterOptions, ClusterServer, TestCluster } from "./cluster.ts";
