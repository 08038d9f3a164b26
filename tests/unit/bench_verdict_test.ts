/**
 * The benchmark's verdicts (bench/verdict.ts): met or missed only when every
 * repetition agrees, "within noise" when the spread straddles the target, and
 * by how much the median is off. Pure arithmetic on given numbers; nothing here
 * measures time.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { judge } from "../../bench/verdict.ts";

describe("bench verdicts", () => {
  it("a ratio that must be at least the target: met, missed, within noise", () => {
    assert.equal(judge([1.3, 1.25, 1.4], 1.2, "higher").status, "met");
    const missed = judge([0.9, 1.0, 1.1], 1.2, "higher");
    assert.equal(missed.status, "missed");
    assert.match(missed.text, /\*\*missed\*\* by 17%/);
    assert.match(missed.text, /1\.00× \[0\.90–1\.10\] \(3 reps\), target ≥ 1\.20×/);
    const noisy = judge([1.1, 1.3, 1.25], 1.2, "higher");
    assert.equal(noisy.status, "within noise");
    assert.match(noisy.text, /median meets it/);
  });

  it("a cost that must be at most the target, in bytes or ms: the distance is absolute", () => {
    assert.equal(judge([291, 292], 300, "lower", " B", 0).status, "met");
    const missed = judge([947, 950], 300, "lower", " B", 0);
    assert.equal(missed.status, "missed");
    assert.match(missed.text, /by 649 B/);
    const noisy = judge([-5, 8, 40], 10, "lower", " ms", 1);
    assert.equal(noisy.status, "within noise");
    assert.match(noisy.text, /median meets it/);
  });

  it("a single repetition is judged on its own; no numbers: not measured", () => {
    assert.equal(judge([1.6], 1.5, "lower").status, "missed");
    assert.equal(judge([], 1.5, "lower").status, "not measured");
    assert.equal(judge([NaN], 1.5, "lower").status, "not measured");
  });
});
