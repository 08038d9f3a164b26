/**
 * Keeps a client library's socket handlers from crashing the process.
 *
 * Client libraries parse the server's bytes inside the socket's `data`
 * handler; a message they do not expect (an authentication method they lack,
 * a short or malformed authentication message, a SCRAM challenge without
 * salt) makes them throw there, which is an uncaught exception, or reject an
 * async handler nobody awaits, which is an unhandled rejection. Either ends a
 * Deno or Node process. The guard wraps the socket's `emit`: until the
 * session is up it checks every authentication message before the library
 * sees it (and caps the SCRAM iteration count, whose key derivation would
 * block the event loop), and a throw from any listener becomes the socket's
 * error, which the library reports through the connect or query promise.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */

/** Most SCRAM iterations accepted (as node-postgres): more would block the event loop for seconds. */
export const MAX_SCRAM_ITERATIONS = 100_000;

/** The part of a Node socket the guard touches. */
export interface GuardedSocket {
  /** Node's `EventEmitter.emit`. */
  emit(event: string | symbol, ...args: unknown[]): boolean;
  /** Destroys the socket, emitting `error` then `close`. */
  destroy(error?: Error): unknown;
}

/**
 * Wraps `socket.emit` as described in the module doc. Costs one call and a
 * `try` per event once the session is up.
 *
 * @param socket The socket the client library reads from (the TLS socket once TLS is on).
 * @param label `host:port`, for messages.
 * @param onAnswer Called once, when the server's first message arrives: the
 *   server speaks PostgreSQL (a failed connect from then on has `reached` it).
 * @param startup `false` for a socket that will carry TLS (its bytes are not
 *   PostgreSQL messages): then only throws are caught.
 */
export function guardSocket(
  socket: GuardedSocket,
  label: string,
  onAnswer?: () => void,
  startup = true,
): void {
  const emit = socket.emit;
  let reader: StartupReader | undefined = startup ? new StartupReader(label, onAnswer) : undefined;
  socket.emit = function (this: unknown, event: string | symbol, ...args: unknown[]): boolean {
    if (reader !== undefined && event === "data" && args[0] instanceof Uint8Array) {
      const problem = reader.read(args[0]);
      if (problem !== undefined) {
        reader = undefined;
        socket.destroy(problem);
        return false;
      }
      if (reader.done) reader = undefined;
    }
    try {
      return emit.call(this, event, ...args);
    } catch (err) {
      socket.destroy(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  };
}

const R = 82; // Authentication
const Z = 90; // ReadyForQuery
const E = 69; // ErrorResponse
const MAX_AUTH_MESSAGE = 8192;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DECIMAL = /^[1-9][0-9]{0,9}$/;

/** Follows the message framing of the startup phase and checks each authentication message. */
class StartupReader {
  readonly #label: string;
  #header = new Uint8Array(5);
  #headerLength = 0;
  #body: Uint8Array | undefined;
  #bodyLength = 0;
  #skip = 0;
  #onAnswer: (() => void) | undefined;
  done = false;

  constructor(label: string, onAnswer: (() => void) | undefined) {
    this.#label = label;
    this.#onAnswer = onAnswer;
  }

  /** Reads one chunk; returns the error to fail the connection with, if any. */
  read(chunk: Uint8Array): Error | undefined {
    let i = 0;
    while (i < chunk.length && !this.done) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
      } else if (this.#body !== undefined) {
        const n = Math.min(this.#body.length - this.#bodyLength, chunk.length - i);
        this.#body.set(chunk.subarray(i, i + n), this.#bodyLength);
        this.#bodyLength += n;
        i += n;
        if (this.#bodyLength === this.#body.length) {
          const problem = this.#checkAuth(this.#body);
          this.#body = undefined;
          if (problem !== undefined) return problem;
        }
      } else {
        this.#header[this.#headerLength++] = chunk[i++];
        if (this.#headerLength === 5) {
          const problem = this.#startMessage();
          if (problem !== undefined) return problem;
        }
      }
    }
    return undefined;
  }

  #startMessage(): Error | undefined {
    const h = this.#header;
    this.#headerLength = 0;
    const type = h[0];
    const length = ((h[1] << 24) | (h[2] << 16) | (h[3] << 8) | h[4]) >>> 0;
    if (length < 4) return this.#fail(`a message of impossible length ${length}`);
    this.#onAnswer?.();
    this.#onAnswer = undefined;
    if (type === Z || type === E) {
      // Up (or refused by the server, which the library reports itself).
      this.done = true;
      return undefined;
    }
    if (type !== R) {
      this.#skip = length - 4;
      return undefined;
    }
    if (length < 8 || length > MAX_AUTH_MESSAGE) {
      return this.#fail(`an authentication message of length ${length}`);
    }
    this.#body = new Uint8Array(length - 4);
    this.#bodyLength = 0;
    return undefined;
  }

  #checkAuth(body: Uint8Array): Error | undefined {
    const code = ((body[0] << 24) | (body[1] << 16) | (body[2] << 8) | body[3]) >>> 0;
    const rest = new TextDecoder().decode(body.subarray(4));
    switch (code) {
      case 0: // Ok
      case 3: // cleartext password
      case 10: // SASL mechanisms
        return undefined;
      case 5: // MD5
        return body.length === 8 ? undefined : this.#fail("a malformed MD5 challenge");
      case 11:
        return this.#checkScram(rest);
      case 12:
        return rest.startsWith("v=") ? undefined : this.#fail("a malformed SCRAM final message");
      default:
        return Object.assign(
          new Error(
            `Cannot authenticate to ${this.#label}: the server asks for authentication method ${code} (${
              METHOD_NAMES[code] ?? "unknown"
            }), which this driver does not support`,
          ),
          { code: "AUTH_METHOD_NOT_SUPPORTED" },
        );
    }
  }

  #checkScram(message: string): Error | undefined {
    const attrs = new Map<string, string>();
    for (const part of message.split(",")) {
      if (part.length >= 2 && part[1] === "=") attrs.set(part[0], part.slice(2));
    }
    const nonce = attrs.get("r");
    const salt = attrs.get("s");
    const iterations = attrs.get("i");
    if (!nonce || !salt || !BASE64.test(salt) || !iterations || !DECIMAL.test(iterations)) {
      return this.#fail(
        "a malformed SCRAM challenge (nonce, salt or iteration count missing or invalid)",
      );
    }
    if (Number(iterations) > MAX_SCRAM_ITERATIONS) {
      return this.#fail(
        `a SCRAM iteration count of ${iterations} (at most ${MAX_SCRAM_ITERATIONS} accepted)`,
      );
    }
    return undefined;
  }

  #fail(what: string): Error {
    return Object.assign(
      new Error(`Cannot authenticate to ${this.#label}: the server sent ${what}`),
      { code: "PROTOCOL_VIOLATION" },
    );
  }
}

const METHOD_NAMES: Record<number, string> = {
  2: "Kerberos V5",
  6: "SCM credentials",
  7: "GSSAPI",
  8: "GSSAPI continue",
  9: "SSPI",
};
