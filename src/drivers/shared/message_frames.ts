/**
 * PostgreSQL backend messages read off a session's plaintext stream as it
 * comes, in chunks split anywhere: a type byte, a 32-bit length (itself
 * included), the body. An adapter that must see a message its client keeps to
 * itself (the backend key, a notification's sender) reads beside the client.
 *
 * @module
 */

/** Which messages a {@linkcode frameReader} gathers, and what it does with them. */
export interface FrameRules {
  /**
   * Whether to gather the body of a message (a guard on `length` keeps a garbled stream from
   * allocating much); `"stop"`: read no more.
   */
  pick(type: number, length: number): boolean | "stop";
  /** A gathered message; `true`: read no more. */
  take(type: number, body: Uint8Array): boolean | void;
}

/**
 * A data listener that frames the stream and hands the picked messages on.
 *
 * @example Every NotificationResponse of a socket
 * ```ts ignore
 * const read = frameReader({ pick: (type) => type === 0x41, take: (_, body) => emit(body) });
 * socket.on("data", (chunk) => void read(chunk));
 * ```
 *
 * @param rules What to gather.
 * @returns The listener: `true` once the rules said to stop (later chunks are ignored).
 */
export function frameReader(rules: FrameRules): (chunk: Uint8Array) => boolean {
  const head = new Uint8Array(5);
  let headLength = 0;
  let skip = 0;
  let body: Uint8Array | undefined;
  let got = 0;
  let stopped = false;
  const gathered = () => {
    const done = body!;
    body = undefined;
    if (rules.take(head[0], done) === true) stopped = true;
  };
  return (chunk) => {
    for (let i = 0; i < chunk.length && !stopped;) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
      } else if (body !== undefined) {
        const n = Math.min(body.length - got, chunk.length - i);
        body.set(chunk.subarray(i, i + n), got);
        got += n;
        i += n;
        if (got === body.length) gathered();
      } else {
        head[headLength++] = chunk[i++];
        if (headLength < 5) continue;
        headLength = 0;
        const length = ((head[1] << 24) | (head[2] << 16) | (head[3] << 8) | head[4]) - 4;
        const picked = rules.pick(head[0], length);
        if (picked === "stop") stopped = true;
        else if (!picked || length < 0) skip = Math.max(0, length);
        else {
          body = new Uint8Array(length);
          got = 0;
          if (length === 0) gathered();
        }
      }
    }
    return stopped;
  };
}
