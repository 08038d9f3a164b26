/**
 * The rig of an attack on the fake driver and clock: a pool over a
 * {@linkcode FakeDriver} (one pipelined group `g` unless told otherwise),
 * pings held until the test answers them, steps after a chosen number of
 * microtask turns, and the end-of-test checks every attack makes (nothing
 * leased, no session left open, no timer left on the clock, nothing
 * escaped).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { FakeDriver } from "./fake_driver.ts";
import { FakeClock } from "./fake_clock.ts";
import { watchEscapes } from "./escapes.ts";

/** A pool on the fake clock, and what it runs on. */
export interface FakeRig {
  /** The pool under attack. */
  pool: Pool;
  /** Its driver. */
  driver: FakeDriver;
  /** Its clock. */
  clock: FakeClock;
}

/**
 * A pool over a fresh fake driver and clock: endpoint `a`, group `g` (one
 * pipelined session, then `group`), pings after 1 s idle with a 5 s
 * deadline, then `options`.
 *
 * @example Two pipelined sessions, pinged after any idle time
 * ```ts ignore
 * const r = fakeRig({ pingAfterIdleMs: 0 }, { connection_count: 2 });
 * ```
 */
export function fakeRig(
  options: Record<string, unknown> = {},
  group: Record<string, unknown> = {},
): FakeRig {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = createPool({
    db: { host: "a" },
    groups: { g: { connection_count: 1, pipeline: true, ...group } },
    driver,
    pingAfterIdleMs: 1000,
    pingTimeoutMs: 5000,
    ...options,
  }, { clock });
  return { pool, driver, clock };
}

/**
 * One real timer turn: lets every pending microtask and I/O callback run.
 *
 * @example Let the pool take in a step
 * ```ts ignore
 * first.kill();
 * await tick();
 * ```
 */
export function tick(): Promise<void> {
  return new Promise<void>((r) => setTimeout(r, 0));
}

/**
 * Calls `fn` after `turns` microtask turns (0: at once), to land a step at
 * every `await` of the path under attack.
 *
 * @example An abort after each number of turns
 * ```ts ignore
 * for (let turns = 0; turns <= 30; turns++) afterTurns(turns, () => controller.abort());
 * ```
 */
export function afterTurns(turns: number, fn: () => void): void {
  let left = turns;
  const step = () => {
    if (left-- <= 0) fn();
    else queueMicrotask(step);
  };
  step();
}

/** Queries held by {@linkcode holdQueries}. */
export interface HeldQueries {
  /** Restores the responder, then answers the held queries (`fail`: they fail instead). */
  answer(fail?: boolean): void;
  /** How many queries were held so far. */
  count(): number;
}

/**
 * Holds every query of text `text` (the ping's `SELECT 1` by default) until
 * `answer` is called; other queries go to the responder in place before.
 *
 * @example A ping that answers when the test says so
 * ```ts ignore
 * const hold = holdQueries(r.driver);
 * r.clock.advance(5000);
 * const call = r.pool.withHandler("g", () => 1);
 * await tick();
 * hold.answer();
 * ```
 */
export function holdQueries(driver: FakeDriver, text = "SELECT 1"): HeldQueries {
  const inner = driver.respond;
  const held: ((fail: boolean) => void)[] = [];
  let count = 0;
  driver.respond = (t, params, s) => {
    if (t !== text) return inner(t, params, s);
    count++;
    return new Promise((resolve, reject) =>
      held.push((fail) => {
        if (fail) return reject(new Error("server closed the connection"));
        try {
          resolve(inner(t, params, s));
        } catch (err) {
          reject(err);
        }
      })
    );
  };
  return {
    answer(fail = false) {
      driver.respond = inner;
      held.splice(0).forEach((f) => f(fail));
    },
    count: () => count,
  };
}

/**
 * Ends `pool` with `clock` run past every timeout of the end (a minute).
 *
 * @example The pool ended without waiting in real time
 * ```ts ignore
 * await endOnClock(r.pool, r.clock);
 * ```
 */
export async function endOnClock(pool: Pool, clock: FakeClock): Promise<void> {
  const ending = pool.end();
  clock.advance(60_000);
  await ending;
}

/**
 * The end-of-test checks of an attack, each miss pushed onto `problems`
 * (prefixed with `label`): after a few turns nothing of group `g` is leased;
 * then the pool ends, and no session of `fake` is open and no timer is
 * pending on the clock.
 *
 * @example The checks after one round of an attack
 * ```ts ignore
 * await endAndCheck(r, problems, `turn ${turns}`);
 * ```
 */
export async function endAndCheck(
  r: { pool: Pool; clock: FakeClock; driver: FakeDriver | { fake: FakeDriver } },
  problems: string[],
  label = "",
): Promise<void> {
  const at = label ? `${label}: ` : "";
  const fake = r.driver instanceof FakeDriver ? r.driver : r.driver.fake;
  for (let i = 0; i < 3; i++) await tick();
  const { leased } = r.pool.stats().groups.g;
  if (leased !== 0) problems.push(`${at}leased ${leased}`);
  await endOnClock(r.pool, r.clock);
  for (let i = 0; i < 3; i++) await tick();
  if (fake.open.size !== 0) problems.push(`${at}${fake.open.size} sessions left open`);
  if (r.clock.pendingTimers !== 0) problems.push(`${at}${r.clock.pendingTimers} timers left`);
}

/**
 * Runs an attack that lists what went wrong in `problems` rather than
 * stopping at the first, under an escape watch; then asserts that the list
 * is empty and that nothing escaped.
 *
 * @example An attack that reports every miss at once
 * ```ts ignore
 * it("survives", () => listProblems(async (problems) => {
 *   const r = fakeRig();
 *   await endAndCheck(r, problems);
 * }));
 * ```
 */
export async function listProblems(run: (problems: string[]) => Promise<void>): Promise<void> {
  const watch = watchEscapes();
  const problems: string[] = [];
  try {
    await run(problems);
  } finally {
    watch.stop();
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(watch.escaped, []);
}
