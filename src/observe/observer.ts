/**
 * What groups and endpoints report as they work: sessions opened and closed,
 * leases that waited, use and connect times. Timings are always counted (a
 * few additions); an event's detail is built only when someone listens, a
 * sample only when a sampler is attached.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import type { ResourcePoolOptions } from "../core/resource_pool.ts";
import type { EventSink } from "./event_target.ts";
import type { SessionCloseReason } from "./events.ts";
import { TimingSet } from "./timing.ts";

/** Without a sampler attached, one lease in this many has its use time counted. */
export const USE_SAMPLE = 32;

/** What an observer needs of the endpoint set: ids and per-endpoint timings. */
export interface ObservedEndpoints {
  /** Where a session of `index` is connected. */
  info(index: number): { readonly id: string };
  /** The timings of `index`. */
  timings(index: number): TimingSet;
}

/** The observer of one pool: hands out one {@linkcode GroupObserver} per group. */
export class PoolObserver {
  readonly #sink: EventSink | undefined;
  readonly #clock: Clock;

  /**
   * Builds the observer.
   *
   * @param sink Where events and samples go; `undefined`: only timings are kept.
   * @param clock The clock.
   */
  constructor(sink: EventSink | undefined, clock: Clock) {
    this.#sink = sink;
    this.#clock = clock;
  }

  /**
   * The observer of one group.
   *
   * @param name The group's name.
   * @param endpoints The pool's endpoints.
   * @returns A new observer.
   */
  group(name: string, endpoints: ObservedEndpoints): GroupObserver {
    return new GroupObserver(name, this.#sink, this.#clock, endpoints);
  }

  /**
   * An endpoint went down or came back: `endpointdown` / `endpointup`.
   *
   * @param endpoint Its id.
   * @param up Whether it is up now.
   * @param error The redacted connect error, when it went down.
   */
  health(endpoint: string, up: boolean, error: string | undefined): void {
    const sink = this.#sink;
    if (!sink) return;
    if (up && sink.hears("endpointup")) sink.emit("endpointup", { endpoint });
    else if (!up && sink.hears("endpointdown")) sink.emit("endpointdown", { endpoint, error });
  }
}

/** The observer of one group; its `timings` are the group's. */
export class GroupObserver {
  /** The group's timings. */
  readonly timings: TimingSet = new TimingSet();
  readonly #name: string;
  readonly #sink: EventSink | undefined;
  readonly #clock: Clock;
  readonly #endpoints: ObservedEndpoints;
  #uses = 0;

  /**
   * Builds the observer; use {@linkcode PoolObserver.group}.
   *
   * @param name The group's name.
   * @param sink Where events and samples go.
   * @param clock The clock.
   * @param endpoints The pool's endpoints.
   */
  constructor(
    name: string,
    sink: EventSink | undefined,
    clock: Clock,
    endpoints: ObservedEndpoints,
  ) {
    this.#name = name;
    this.#sink = sink;
    this.#clock = clock;
    this.#endpoints = endpoints;
  }

  /**
   * Wraps a resource pool's options so that each session destroyed is
   * reported (`sessionclose`). (Opening is reported by the group, with
   * {@linkcode GroupObserver.opened}: a wrapper around `create` would delay
   * every new session by a microtask.)
   *
   * @param opts The options.
   * @returns The same, observed.
   */
  observe<R>(
    opts: ResourcePoolOptions<R, SessionCloseReason>,
  ): ResourcePoolOptions<R, SessionCloseReason> {
    const destroy = opts.destroy;
    return {
      ...opts,
      destroy: (resource, partition, reason) => {
        const closing = destroy(resource, partition, reason);
        this.closed(partition, reason);
        return closing;
      },
    };
  }

  /**
   * A session opened: counts its connect time, sends `sessionopen`.
   *
   * @param endpoint Its endpoint's index.
   * @param startedAt Clock time the group started opening it.
   */
  opened(endpoint: number, startedAt: number): void {
    const ms = this.#clock.now() - startedAt;
    this.timings.connect.add(ms);
    this.#endpoints.timings(endpoint).connect.add(ms);
    const sink = this.#sink;
    if (!sink) return;
    if (sink.sampling) sink.sample("connected", this.#name, ms);
    if (sink.hears("sessionopen")) {
      const id = this.#endpoints.info(endpoint).id;
      sink.emit("sessionopen", { group: this.#name, endpoint: id, connectMs: ms });
    }
  }

  /**
   * A session closed: sends `sessionclose`.
   *
   * @param endpoint Its endpoint's index.
   * @param reason Why.
   */
  closed(endpoint: number, reason: SessionCloseReason): void {
    const sink = this.#sink;
    if (!sink?.hears("sessionclose")) return;
    const id = this.#endpoints.info(endpoint).id;
    sink.emit("sessionclose", { group: this.#name, endpoint: id, reason });
  }

  /**
   * A lease was handed `entry`: after a wait (counted, and sent as
   * `leasewait`) when `startedAt` is a clock time, else at once (a zero wait,
   * for samplers only). Called once the group vetted the entry: the clock
   * read it took then (`lastUsed`) ends the wait, so no read of its own.
   *
   * @param entry The entry handed out.
   * @param startedAt Clock time the lease started waiting; -1: it did not wait.
   * @returns `entry`.
   */
  served<E extends { readonly partition: number; readonly lastUsed: number }>(
    entry: E,
    startedAt: number,
  ): E {
    if (startedAt < 0) this.servedOn(entry.partition, -1);
    // (An entry replaced while vetted, as dead, kept an older `lastUsed`: then the clock is read.)
    else {this.servedOn(
        entry.partition,
        startedAt,
        entry.lastUsed >= startedAt ? entry.lastUsed : undefined,
      );}
    return entry;
  }

  /**
   * {@linkcode GroupObserver.served} by endpoint index.
   *
   * @param endpoint The session's endpoint index.
   * @param startedAt Clock time the lease started waiting; -1: it did not wait.
   * @param now Clock time it was served (read here when not given).
   */
  servedOn(endpoint: number, startedAt: number, now?: number): void {
    const sink = this.#sink;
    if (startedAt < 0) {
      if (sink?.sampling) sink.sample("waited", this.#name, 0);
      return;
    }
    const ms = (now ?? this.#clock.now()) - startedAt;
    this.timings.acquireWait.add(ms);
    this.#endpoints.timings(endpoint).acquireWait.add(ms);
    if (!sink) return;
    if (sink.sampling) sink.sample("waited", this.#name, ms);
    if (sink.hears("leasewait")) sink.emit("leasewait", { group: this.#name, waitedMs: ms });
  }

  /**
   * A lease ended: counts its use time, for one lease in {@linkcode USE_SAMPLE}
   * (the first one included), or every lease while a sampler is attached.
   *
   * @param endpoint The session's endpoint index.
   * @param since Clock time it was handed out.
   */
  used(endpoint: number, since: number): void {
    // A clock read costs about a tenth of a whole lease (Date.now() is no
    // cheap call everywhere): stats time a sample of leases, not every one.
    const sampling = this.#sink?.sampling === true;
    if (this.#uses++ % USE_SAMPLE !== 0 && !sampling) return;
    const ms = this.#clock.now() - since;
    this.timings.use.add(ms);
    this.#endpoints.timings(endpoint).use.add(ms);
    if (sampling) this.#sink!.sample("used", this.#name, ms);
  }
}
