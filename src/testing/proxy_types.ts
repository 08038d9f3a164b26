/**
 * The shapes of `startProxy()`: its options and the running proxy.
 *
 * @module
 */

/**
 * Where a {@linkcode TestProxy} forwards to.
 *
 * @example A local server
 * ```ts
 * import type { ProxyTarget } from "@x/pgdbpool/testing";
 *
 * const target: ProxyTarget = { host: "127.0.0.1", port: 5432 };
 * ```
 */
export interface ProxyTarget {
  /** Host of the server behind the proxy. */
  readonly host: string;
  /** Its TCP port. */
  readonly port: number;
}

/**
 * Options of {@linkcode startProxy}.
 *
 * @example A proxy on a fixed port
 * ```ts
 * import type { ProxyOptions } from "@x/pgdbpool/testing";
 *
 * const options: ProxyOptions = { target: { host: "127.0.0.1", port: 5432 }, port: 15432 };
 * ```
 */
export interface ProxyOptions {
  /** The server to forward to. */
  target: ProxyTarget;
  /**
   * The port to listen on (on 127.0.0.1).
   *
   * @default {0} (a free port chosen by the system)
   */
  port?: number;
}

/**
 * What a {@linkcode TestProxy} does with traffic at the moment.
 *
 * @example Check the mode
 * ```ts
 * import { startProxy } from "@x/pgdbpool/testing";
 *
 * const proxy = await startProxy({ target: { host: "127.0.0.1", port: 5432 } });
 * proxy.stall();
 * console.assert(proxy.mode === "stall");
 * await proxy.close();
 * ```
 */
export type ProxyMode = "pass" | "stall" | "refuse" | "delay";

/**
 * A running proxy: {@linkcode startProxy}. Mode changes take effect at once.
 *
 * @example Silence the sessions a pool holds, let new ones through
 * ```ts
 * import { startProxy } from "@x/pgdbpool/testing";
 *
 * const proxy = await startProxy({ target: { host: "127.0.0.1", port: 5432 } });
 * proxy.silenceOpen(); // idle sessions' sockets go quiet; a reconnect works
 * proxy.pass();
 * await proxy.close();
 * ```
 */
export interface TestProxy {
  /** Always `"127.0.0.1"`. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** The current mode (`silenceOpen()` leaves it `"pass"`: new connections pass). */
  readonly mode: ProxyMode;
  /** How many client connections are open through the proxy now. */
  readonly connectionCount: number;
  /** Forwards everything, also what was held back while stalled or silenced. */
  pass(): void;
  /** Accepts connections but forwards nothing, on new and already open connections alike. */
  stall(): void;
  /**
   * Resets every new connection at once, as a proxy whose server is gone does; open connections
   * keep passing. The pool takes such cuts for an outage once they persist for the endpoint's
   * `connect_timeout` (at least 1 s); for a refused port, `close()` the proxy.
   */
  refuse(): void;
  /** Forwards every chunk `ms` milliseconds late (0 to 2^31 - 1; else a RangeError), in both directions, in order. */
  delay(ms: number): void;
  /** Resets every open connection (both sides); the mode stays as it is. */
  drop(): void;
  /** Stalls the connections open now, for good until `pass()`; new connections pass. */
  silenceOpen(): void;
  /** Stops listening and destroys every connection; resolves once no socket is left. */
  close(): Promise<void>;
}
