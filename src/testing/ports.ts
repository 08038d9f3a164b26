/**
 * Free TCP ports on 127.0.0.1 for test servers, never handed out twice by
 * this process.
 *
 * @module
 */

import fs from "node:fs";
import net from "node:net";

const reserved = new Set<number>();

/**
 * A TCP port on 127.0.0.1 where nothing listens. Chosen below the kernel's
 * ephemeral range (so no client socket takes it later), never one already
 * reserved in this process, never the same twice until released.
 *
 * @returns The port, now reserved.
 * @throws {Error} When 200 random tries found none.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (reserved.has(port)) continue;
    if (await canListen(port)) {
      reserved.add(port);
      return port;
    }
  }
  throw new Error(`freePort(): no free port found in ${low}-${high}`);
}

/** Marks `port` as taken (a server given from outside listens there). */
export function reservePort(port: number): void {
  reserved.add(port);
}

/** Gives `port` back (its server was deleted). */
export function releasePort(port: number): void {
  reserved.delete(port);
}

/** Ports below the kernel's ephemeral range, so no client connection can take one. */
function portRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(
      fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
    );
  } catch { /* not Linux */ }
  const high = Math.max(ephemeralLow, 12000);
  return [Math.max(1024, high - 12000), high];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(
      { host: "127.0.0.1", port, exclusive: true },
      () => server.close(() => resolve(true)),
    );
  });
}
