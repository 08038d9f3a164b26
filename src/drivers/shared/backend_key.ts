/**
 * A session's backend key (process id and secret key, from BackendKeyData),
 * read off its socket during the startup, for a client that does not expose
 * it: what a CancelRequest for that session must carry. The listener reads
 * the startup messages only and goes once the key (or ReadyForQuery) came:
 * queries never pass through it.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import { cancelMessage, type CancelTarget } from "./cancel_request.ts";
import { frameReader } from "./message_frames.ts";

/** How an adapter sends a CancelRequest: settles once sent, failed or timed out; never rejects. */
export type CancelSender = (
  target: CancelTarget,
  usedTls: boolean,
  message: Uint8Array,
) => Promise<void>;

const BACKEND_KEY = 0x4b; // "K"
const READY = 0x5a; // "Z"
const ERROR = 0x45; // "E"

/** A socket's data events, as node:net gives them. */
export interface KeySource {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  off(event: "data", listener: (chunk: Uint8Array) => void): unknown;
}

/** The way to cancel one session's query: its server, TLS, and the key once known. */
export class SessionCanceller {
  readonly #target: CancelTarget;
  readonly #sender: CancelSender;
  #usedTls = false;
  #message: Uint8Array | undefined;

  /**
   * @param target The session's server and TLS settings (no password).
   * @param sender The adapter's way of sending the request.
   */
  constructor(target: CancelTarget, sender: CancelSender) {
    this.#target = target;
    this.#sender = sender;
  }

  /**
   * Sets the key (a client that exposes it).
   *
   * @param pid The backend's process id.
   * @param key The secret key's bytes.
   * @param usedTls Whether the session runs over TLS.
   */
  keyed(pid: number, key: Uint8Array, usedTls: boolean): void {
    this.#message = cancelMessage(pid, key);
    this.#usedTls = usedTls;
  }

  /**
   * Reads the key off the session's socket (plaintext messages: above TLS, if any).
   *
   * @param socket The session's socket, before the server's first message.
   * @param usedTls Whether it is a TLS socket.
   */
  watch(socket: KeySource, usedTls: boolean): void {
    const read = frameReader({
      // No key before the session is ready (or failed): nothing more to read then.
      pick: (type, length) =>
        type === READY || type === ERROR
          ? "stop"
          : type === BACKEND_KEY && length >= 8 && length <= 260,
      take: (_, body) => {
        this.keyed(new DataView(body.buffer).getInt32(0), body.subarray(4), usedTls);
        return true;
      },
    });
    const onData = (chunk: Uint8Array) => {
      if (read(chunk)) socket.off("data", onData);
    };
    socket.on("data", onData);
  }

  /**
   * Sends the CancelRequest; nothing when the key never came.
   *
   * @returns When sent, failed or timed out; never rejects.
   */
  send(): Promise<void> {
    const message = this.#message;
    if (message === undefined) return Promise.resolve();
    return this.#sender(this.#target, this.#usedTls, message);
  }
}
