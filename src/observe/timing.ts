/**
 * Timings that stay on: a count, a sum and a maximum per kind of duration,
 * three additions per sample and no allocation.
 *
 * @module
 */

/** Durations of one kind, in milliseconds: how many, their sum and the longest. */
export interface TimingStats {
  /** Samples counted. */
  count: number;
  /** Their sum, in ms (`sum / count` is the mean). */
  sum: number;
  /** The longest, in ms (0 before the first). */
  max: number;
}

/** The timings `pool.stats()` shows per group and per endpoint. */
export interface Timings {
  /** Leases that queued for a session: how long they waited (a lease served at once is not counted). */
  acquireWaitMs: TimingStats;
  /**
   * Leases that ended: from hand-out to the session's return (commit and
   * cleanup included). One lease in 32 is timed (a clock read is not free),
   * every lease while OpenTelemetry metrics are attached; pipelined groups: none.
   */
  useMs: TimingStats;
  /** Sessions opened: how long each took (connect, login, failover over endpoints). */
  connectMs: TimingStats;
}

/** One running {@linkcode TimingStats}. */
export class Timing implements TimingStats {
  /** Samples counted. */
  count = 0;
  /** Their sum, in ms. */
  sum = 0;
  /** The longest, in ms. */
  max = 0;

  /**
   * Counts one duration.
   *
   * @param ms The duration; a clock stepping back counts as 0.
   */
  add(ms: number): void {
    const d = ms > 0 ? ms : 0;
    this.count++;
    this.sum += d;
    if (d > this.max) this.max = d;
  }

  /**
   * A copy.
   *
   * @returns The current figures.
   */
  snapshot(): TimingStats {
    return { count: this.count, sum: this.sum, max: this.max };
  }
}

/** The three timings of one group or one endpoint. */
export class TimingSet {
  /** Queue time of leases that waited. */
  readonly acquireWait: Timing = new Timing();
  /** Time leases held their session. */
  readonly use: Timing = new Timing();
  /** Time sessions took to open. */
  readonly connect: Timing = new Timing();

  /**
   * A copy, as `stats()` shows it.
   *
   * @returns The current figures.
   */
  snapshot(): Timings {
    return {
      acquireWaitMs: this.acquireWait.snapshot(),
      useMs: this.use.snapshot(),
      connectMs: this.connect.snapshot(),
    };
  }
}
