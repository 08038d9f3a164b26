/**
 * The connect attempts one search has out at once, in arrival order: the
 * search takes their outcomes one by one (or wakes when a timer it asked for
 * fires) until one gives it a session. Once the search is over, every
 * session still to arrive (or arrived and not taken) is closed: an attempt
 * that loses the race is never leaked, nor counted for the group.
 *
 * @module
 */
import type { Attempt } from "./open_session.ts";
import type { EndpointSet } from "./endpoint_set.ts";

/** An attempt's outcome, with its endpoint and whether it was a probe. */
export interface Outcome {
  /** The endpoint tried. */
  readonly endpoint: number;
  /** The attempt's outcome. */
  readonly got: Attempt;
  /** A probe of a backed-off endpoint (else a step of the search's own sequence). */
  readonly probe: boolean;
}

/** The searches of one endpoint set waiting for an attempt: the pool's end() wakes them. */
export class WaitingSearches {
  #ended = false;
  readonly #wakers = new Set<() => void>();

  /** Whether the pool ended: a search stops at its next turn. */
  get ended(): boolean {
    return this.#ended;
  }

  /** @internal */
  add(wake: () => void): void {
    this.#wakers.add(wake);
  }

  /** @internal */
  delete(wake: () => void): void {
    this.#wakers.delete(wake);
  }

  /** Wakes every waiting search, which then stops (its attempts' sessions are closed). */
  end(): void {
    this.#ended = true;
    for (const wake of this.#wakers) wake();
    this.#wakers.clear();
  }
}

/** Attempts out at once within one search. */
export class AttemptRace {
  readonly #set: EndpointSet;
  readonly #arrived: Outcome[] = [];
  #pending = 0;
  #probes = 0;
  #over = false;
  #wake: (() => void) | undefined;

  /**
   * @param set Where sessions that lose the race are closed.
   */
  constructor(set: EndpointSet) {
    this.#set = set;
  }

  /** Attempts out whose outcome has not arrived yet. */
  get pending(): number {
    return this.#pending;
  }

  /** Outcomes arrived and not yet taken. */
  get arrived(): number {
    return this.#arrived.length;
  }

  /** Probes out: attempts of backed-off endpoints still running. */
  get probes(): number {
    return this.#probes;
  }

  /**
   * Adds an attempt.
   *
   * @param endpoint Its endpoint.
   * @param running The attempt (never rejects; a rejection counts as an outage).
   * @param probe Whether it probes a backed-off endpoint.
   */
  add(endpoint: number, running: Promise<Attempt>, probe: boolean): void {
    this.#pending++;
    if (probe) this.#probes++;
    const arrive = (got: Attempt) => {
      this.#pending--;
      if (probe) this.#probes--;
      const outcome = { endpoint, got, probe };
      if (this.#over) this.#discard(outcome);
      else this.#arrived.push(outcome);
      this.#wake?.();
    };
    running.then(arrive, (error) => arrive({ error, kind: "outage", backedOff: false }));
  }

  /**
   * The next outcome, waiting for one at most `waitMs` (on the set's clock).
   *
   * @param waitMs How long to wait when none has arrived (`Infinity`: until one does).
   * @returns The outcome, or `undefined` when the wait ended without one.
   */
  async next(waitMs: number): Promise<Outcome | undefined> {
    const searches = this.#set.searches;
    if (this.#arrived.length === 0 && this.#pending > 0 && !searches.ended) {
      const clock = this.#set.clock;
      let timer: unknown;
      let wake!: () => void;
      await new Promise<void>((resolve) => {
        this.#wake = wake = resolve;
        searches.add(resolve);
        if (waitMs !== Infinity) timer = clock.setTimeout(resolve, Math.max(0, waitMs));
      });
      this.#wake = undefined;
      searches.delete(wake);
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    return this.#arrived.shift();
  }

  /** Ends the race: sessions not taken, and those still to arrive, are closed. */
  end(): void {
    this.#over = true;
    for (const outcome of this.#arrived.splice(0)) this.#discard(outcome);
  }

  #discard({ endpoint, got }: Outcome): void {
    if (got.connection) this.#set.close(endpoint, got.connection);
  }
}
