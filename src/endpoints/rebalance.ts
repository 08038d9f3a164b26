/**
 * Rebalancing: when an endpoint that was down can take sessions again, a
 * group at its `connection_count` has no free slot to open one there. So
 * sessions released on endpoints above their share are retired, a few at a
 * time, and the slots they free are reopened where the rotation sends them:
 * on the endpoints below their share. The group never holds more sessions
 * than its limit meanwhile (a slot is freed before it is reused).
 *
 * @module
 */

/** An endpoint that may take sessions now. */
export interface Candidate {
  /** Endpoint index. */
  readonly index: number;
  /** `false` while it is still backed off (its back-off has passed: it may be probed). */
  readonly up: boolean;
}

/** What to move. */
export interface MovePlan {
  /** How many sessions to retire. */
  moves: number;
  /** Retire only sessions of endpoints holding more than this many. */
  share: number;
}

/**
 * Plans the moves that bring a group's sessions back to an even spread.
 * An endpoint not yet up gets one session (a probe) until it is.
 *
 * @param counts The group's sessions per endpoint index.
 * @param scope The endpoint indexes of the group.
 * @param candidates The endpoints that may take sessions now.
 * @returns The number of sessions to retire and the share above which they are.
 */
export function planMoves(
  counts: readonly number[],
  scope: readonly number[],
  candidates: readonly Candidate[],
): MovePlan {
  const k = candidates.length;
  if (k < 2) return { moves: 0, share: Infinity };
  let total = 0;
  for (const i of scope) total += counts[i];
  const low = Math.floor(total / k);
  let moves = 0;
  for (const c of candidates) {
    const missing = Math.max(0, low - counts[c.index]);
    moves += c.up ? missing : Math.min(1, missing);
  }
  return { moves, share: Math.ceil(total / k) };
}

// The spread of a group's sessions is looked at once per this many releases.
const REBALANCE_EVERY = 32;

/**
 * Decides, release by release, which sessions to retire: every
 * `REBALANCE_EVERY` releases it asks for a fresh plan, then retires released
 * sessions of endpoints above the share until the plan's moves are done.
 */
export class Rebalancer {
  readonly #plan: () => MovePlan;
  #releases = 0;
  #moves = 0;
  #share = Infinity;

  /**
   * Builds the rebalancer.
   *
   * @param plan Plans the moves from the group's current spread.
   */
  constructor(plan: () => MovePlan) {
    this.#plan = plan;
  }

  /**
   * Whether to retire a session being released.
   *
   * @param count The group's sessions on that session's endpoint.
   * @returns `true` to retire it.
   */
  retires(count: number): boolean {
    if (++this.#releases >= REBALANCE_EVERY) {
      this.#releases = 0;
      const plan = this.#plan();
      this.#moves = plan.moves;
      this.#share = plan.share;
    }
    if (this.#moves === 0 || count <= this.#share) return false;
    this.#moves--;
    return true;
  }
}
