/**
 * The pool's `EventTarget`: `addEventListener` typed by event name, and the
 * sink the pool emits through. Events cost nothing when nobody listens: an
 * event's detail is built only once a listener for its name was added.
 *
 * @module
 */
import type { PoolEventMap } from "./events.ts";

/** A listener of the pool event `K`: a function or an object with `handleEvent`. */
export type PoolEventListener<K extends keyof PoolEventMap> =
  | ((event: PoolEventMap[K]) => void)
  | { handleEvent(event: PoolEventMap[K]): void };

/** Receives per-lease samples, in ms (the OpenTelemetry bridge records them). */
export interface Sampler {
  /** A lease was handed out after `ms` in the queue (0: at once). */
  waited(group: string, ms: number): void;
  /** A lease ended after holding its session `ms`. */
  used(group: string, ms: number): void;
  /** A session took `ms` to open. */
  connected(group: string, ms: number): void;
}

/**
 * Where a pool's events and samples go: which event names have (or had) a
 * listener, and the samplers attached. A name once listened to stays "heard"
 * (EventTarget cannot tell when its last listener is gone): then a detail is
 * built per event even if nobody is left to receive it.
 */
export class EventSink {
  /** Whether any sampler is attached (read per lease, so a plain field). */
  sampling = false;
  readonly #target: EventTarget | undefined;
  readonly #heard = new Set<string>();
  readonly #samplers = new Set<Sampler>();

  /**
   * Builds a sink.
   *
   * @param target Where events are dispatched; `undefined`: nowhere (no event is ever heard).
   */
  constructor(target: EventTarget | undefined) {
    this.#target = target;
  }

  /**
   * Records that `type` has a listener.
   *
   * @param type The event name.
   */
  heard(type: string): void {
    if (this.#target) this.#heard.add(type);
  }

  /**
   * Whether an event of `type` would reach a listener; check it before building a detail.
   *
   * @param type The event name.
   * @returns `false` when nobody ever listened to `type`.
   */
  hears(type: keyof PoolEventMap): boolean {
    return this.#heard.has(type);
  }

  /**
   * Dispatches a `CustomEvent`.
   *
   * @param type The event name.
   * @param detail Its detail.
   */
  emit(type: string, detail: unknown): void {
    this.#target?.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * Attaches a sampler.
   *
   * @param sampler Receives every sample from now on.
   * @returns Detaches it.
   */
  attach(sampler: Sampler): () => void {
    this.#samplers.add(sampler);
    this.sampling = true;
    return () => {
      this.#samplers.delete(sampler);
      this.sampling = this.#samplers.size > 0;
    };
  }

  /**
   * Hands a sample to every sampler.
   *
   * @param kind Which sample.
   * @param group The group.
   * @param ms The duration.
   */
  sample(kind: keyof Sampler, group: string, ms: number): void {
    for (const s of this.#samplers) s[kind](group, ms);
  }
}

let sinkOf: (target: PoolEventTarget) => EventSink;

/**
 * An `EventTarget` whose `addEventListener` knows the pool's events (see
 * {@linkcode PoolEventMap}): the listener's event is typed by its name.
 *
 * @example Log sessions closed, with why
 * ```ts
 * import { createPool } from "@x/pgdbpool";
 * const pool = createPool({ db: "postgres://localhost/app", groups: { default: { connection_count: 4 } } });
 * pool.addEventListener("sessionclose", (e) => {
 *   console.log(`session of ${e.detail.group} on ${e.detail.endpoint} closed: ${e.detail.reason}`);
 * });
 * ```
 */
export class PoolEventTarget extends EventTarget {
  readonly #sink: EventSink = new EventSink(this);

  static {
    sinkOf = (target) => target.#sink;
  }

  /**
   * Adds a listener; for the pool's events (see {@linkcode PoolEventMap}) it
   * receives a `CustomEvent` of that event's detail.
   *
   * @param type The event name.
   * @param listener The listener.
   * @param options As for `EventTarget.addEventListener`.
   */
  override addEventListener<K extends keyof PoolEventMap>(
    type: K,
    listener: PoolEventListener<K> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Adds a listener for any other event name.
   *
   * @param type The event name.
   * @param listener The listener.
   * @param options As for `EventTarget.addEventListener`.
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener) this.#sink.heard(type);
    super.addEventListener(type, listener, options);
  }

  /**
   * Removes a listener added with {@linkcode PoolEventTarget.addEventListener}.
   *
   * @param type The event name.
   * @param listener The listener.
   * @param options As for `EventTarget.removeEventListener`.
   */
  override removeEventListener<K extends keyof PoolEventMap>(
    type: K,
    listener: PoolEventListener<K> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener of any other event name.
   *
   * @param type The event name.
   * @param listener The listener.
   * @param options As for `EventTarget.removeEventListener`.
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }
}

/**
 * The sink of a pool's events and samples.
 *
 * @param target The pool.
 * @returns Its sink.
 */
export function eventSinkOf(target: PoolEventTarget): EventSink {
  return sinkOf(target);
}
