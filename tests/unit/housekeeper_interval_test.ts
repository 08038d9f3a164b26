/**
 * The housekeeping tick on a clock with `setInterval` (the system clock has
 * one): one timer armed for the pool's life, none per tick, so a test runner
 * that checks each test for timers it started (Deno's ops sanitizer) sees
 * none; clock leaps are seen as on a clock without it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Clock } from "../../mod.ts";
import { Housekeeper } from "../../src/core/housekeeper.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** The fake clock plus intervals (fired late, once, after a freeze, as runtimes do), counting arms. */
class IntervalClock extends FakeClock implements Clock {
  timeoutsArmed = 0;
  intervalsArmed = 0;
  #intervals = new Map<object, unknown>();

  override setTimeout(fn: () => void, ms: number): unknown {
    this.timeoutsArmed++;
    return super.setTimeout(fn, ms);
  }

  override setInterval(fn: () => void, ms: number): unknown {
    this.intervalsArmed++;
    const handle = {};
    const arm = () => {
      this.#intervals.set(
        handle,
        super.setTimeout(() => {
          arm();
          fn();
        }, ms),
      );
    };
    arm();
    return handle;
  }

  override clearInterval(handle: unknown): void {
    super.clearTimeout(this.#intervals.get(handle as object));
    this.#intervals.delete(handle as object);
  }
}

function watch(clock: IntervalClock, periodMs = 1000) {
  const leaps: number[] = [];
  let sweeps = 0;
  const hk = new Housekeeper(clock, periodMs, () => sweeps++, (ms) => leaps.push(ms));
  hk.start();
  return { leaps, sweeps: () => sweeps, hk };
}

describe("Housekeeper on a clock with setInterval", () => {
  it("arms one interval for its life: no timer per tick, none left after stop()", () => {
    const clock = new IntervalClock();
    const w = watch(clock);
    w.hk.start(); // started again by every session opened: no second timer
    clock.advance(10_000);
    assert.equal(w.sweeps(), 10);
    assert.equal(clock.intervalsArmed, 1);
    assert.equal(clock.timeoutsArmed, 0);
    w.hk.stop();
    assert.equal(clock.pendingTimers, 0);
    clock.advance(10_000);
    assert.equal(w.sweeps(), 10);
  });

  it("the wall clock running ahead is a leap of the difference, reported once", () => {
    const clock = new IntervalClock();
    const w = watch(clock);
    clock.advance(3000);
    clock.stepWall(3_600_000);
    clock.advance(1000);
    assert.deepEqual(w.leaps, [3_600_000]);
    clock.advance(5000);
    assert.deepEqual(w.leaps, [3_600_000]);
    w.hk.stop();
  });

  it("a tick far later than scheduled (a frozen isolate) is a leap of its lateness", () => {
    const clock = new IntervalClock();
    const w = watch(clock);
    clock.advance(2000);
    clock.freeze(120_000);
    clock.advance(0);
    assert.deepEqual(w.leaps, [119_000]);
    clock.advance(3000);
    assert.deepEqual(w.leaps, [119_000], "the ticks after it are on time");
    w.hk.stop();
  });

  it("timer jitter and a wall clock set back are no leap", () => {
    const clock = new IntervalClock();
    const w = watch(clock);
    clock.stepWall(500);
    clock.freeze(1500);
    clock.advance(0);
    clock.stepWall(-3_600_000);
    clock.advance(5000);
    assert.deepEqual(w.leaps, []);
    w.hk.stop();
  });
});
