/**
 * A TCP proxy that injects network faults between an app and a server: it
 * passes traffic, stalls it, refuses new connections, delays every chunk,
 * resets what is open, or silences only what is open. Built on `node:net`, so
 * it runs on Deno, Bun and Node alike.
 *
 * @module
 */

import net from "node:net";
import type { ProxyMode, ProxyOptions, ProxyTarget, TestProxy } from "./proxy_types.ts";

export type { ProxyMode, ProxyOptions, ProxyTarget, TestProxy };

const MAX_TIMER_MS = 2 ** 31 - 1;

/** One client connection and its upstream twin. */
interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Set by `silenceOpen()`: this link holds its traffic whatever the mode. */
  silenced: boolean;
  /** Chunks held back while the link was stalled, in arrival order. */
  readonly held: { to: net.Socket; chunk: Uint8Array }[];
  /** When the last delayed chunk of each direction is due (keeps chunks in order). */
  readonly due: Map<net.Socket, number>;
  /** Timers of delayed chunks not yet sent: cleared when the link ends, so none outlives it. */
  readonly timers: Set<ReturnType<typeof setTimeout>>;
}

/**
 * Starts a fault-injecting TCP proxy on 127.0.0.1 in front of `target`, in
 * mode `pass`. Point the app (or one endpoint of its pool) at `host`:`port`
 * and switch modes while it runs; `close()` it after the test.
 *
 * @example Stall the network under a running query
 * ```ts
 * import { startProxy } from "@x/pgdbpool/testing";
 *
 * const proxy = await startProxy({ target: { host: "127.0.0.1", port: 5432 } });
 * try {
 *   // connect the app to `postgres://...@${proxy.host}:${proxy.port}/app`, then:
 *   proxy.stall(); // no byte moves, the sockets stay open: a network gone silent
 *   proxy.pass(); // everything held back is delivered
 *   proxy.drop(); // every open connection is reset
 * } finally {
 *   await proxy.close();
 * }
 * ```
 *
 * @param options The target, and optionally the port to listen on.
 * @returns The running proxy.
 * @throws {TypeError} When `options` or `target` is missing, or `target` has no host or a port outside 1-65535.
 * @throws {RangeError} When `port` is not an integer 0-65535.
 * @throws {Error} When the port cannot be listened on (e.g. `EADDRINUSE`).
 */
export async function startProxy(options: ProxyOptions): Promise<TestProxy> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `startProxy(): expected options { target: { host, port } }, got ${options}`,
    );
  }
  const { target } = options;
  if (typeof target !== "object" || target === null) {
    throw new TypeError(
      `startProxy(): target must be { host, port }, got ${JSON.stringify(target)}`,
    );
  }
  if (typeof target.host !== "string" || target.host === "") {
    throw new TypeError(`startProxy(): target.host must be a host name, got ${target.host}`);
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    throw new TypeError(`startProxy(): target.port must be 1-65535, got ${target.port}`);
  }
  const port = options.port ?? 0;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `startProxy(): port must be an integer 0-65535, got ${JSON.stringify(port)}`,
    );
  }
  const proxy = new Proxy(target);
  await proxy.listen(port);
  return proxy;
}

class Proxy implements TestProxy {
  readonly host = "127.0.0.1";
  #port = 0;
  #mode: ProxyMode = "pass";
  #delayMs = 0;
  readonly #target: ProxyTarget;
  readonly #links = new Set<Link>();
  readonly #server: net.Server;

  constructor(target: ProxyTarget) {
    this.#target = target;
    this.#server = net.createServer((client) => this.#accept(client));
  }

  get port(): number {
    return this.#port;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  get connectionCount(): number {
    return this.#links.size;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen({ host: this.host, port }, () => {
        this.#server.off("error", reject);
        this.#port = (this.#server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  pass(): void {
    this.#mode = "pass";
    this.#delayMs = 0;
    for (const link of this.#links) {
      link.silenced = false;
      this.#flush(link);
    }
  }

  stall(): void {
    this.#mode = "stall";
  }

  refuse(): void {
    this.#mode = "refuse";
    this.#delayMs = 0;
    // Whatever a stall held back flows again on the open connections.
    for (const link of this.#links) this.#flush(link);
  }

  delay(ms: number): void {
    // A timer cannot hold more than 2^31 - 1 ms: a longer one fires at once.
    if (typeof ms !== "number" || !(ms >= 0 && ms <= MAX_TIMER_MS)) {
      throw new RangeError(`delay(): ms must be a number from 0 to ${MAX_TIMER_MS}, got ${ms}`);
    }
    this.#mode = "delay";
    this.#delayMs = ms;
    for (const link of this.#links) this.#flush(link);
  }

  drop(): void {
    for (const link of [...this.#links]) this.#end(link);
  }

  silenceOpen(): void {
    for (const link of this.#links) link.silenced = true;
    if (this.#mode === "stall") this.#mode = "pass";
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.drop();
    return closed;
  }

  #accept(client: net.Socket): void {
    if (this.#mode === "refuse") return reset(client);
    const upstream = net.connect({ host: this.#target.host, port: this.#target.port });
    const link: Link = {
      client,
      upstream,
      silenced: false,
      held: [],
      due: new Map(),
      timers: new Set(),
    };
    this.#links.add(link);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on("data", (chunk: Uint8Array) => this.#forward(link, upstream, chunk));
    upstream.on("data", (chunk: Uint8Array) => this.#forward(link, client, chunk));
    // Either side ending, failing or closing ends both: the proxy never half-opens a link.
    for (const socket of [client, upstream]) {
      socket.on("error", () => this.#end(link));
      socket.on("end", () => this.#end(link));
      socket.on("close", () => this.#end(link));
    }
  }

  #forward(link: Link, to: net.Socket, chunk: Uint8Array): void {
    if (link.silenced || this.#mode === "stall" || link.held.length > 0) {
      // Later chunks queue behind held ones, so order survives a pass().
      link.held.push({ to, chunk });
      if (!link.silenced && this.#mode !== "stall") this.#flush(link);
      return;
    }
    this.#send(link, to, chunk);
  }

  #flush(link: Link): void {
    if (link.silenced || this.#mode === "stall") return;
    for (const { to, chunk } of link.held.splice(0)) this.#send(link, to, chunk);
  }

  #send(link: Link, to: net.Socket, chunk: Uint8Array): void {
    if (this.#mode !== "delay" || this.#delayMs === 0) {
      if (!to.destroyed) to.write(chunk);
      return;
    }
    const now = Date.now();
    const due = Math.max(now + this.#delayMs, link.due.get(to) ?? 0);
    link.due.set(to, due);
    const timer = setTimeout(() => {
      link.timers.delete(timer);
      if (this.#links.has(link) && !to.destroyed) to.write(chunk);
    }, due - now);
    link.timers.add(timer);
  }

  #end(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.held.length = 0;
    for (const timer of link.timers) clearTimeout(timer);
    link.timers.clear();
    reset(link.client);
    reset(link.upstream);
  }
}

/** Closes a socket with a TCP RST where the runtime can, else at once. */
function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  const withReset = socket as net.Socket & { resetAndDestroy?: () => void };
  try {
    if (typeof withReset.resetAndDestroy === "function") withReset.resetAndDestroy();
    else socket.destroy();
  } catch {
    // resetAndDestroy throws on a socket that is still connecting on some runtimes.
    socket.destroy();
  }
}
