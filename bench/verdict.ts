/**
 * Verdicts on the benchmark's targets that survive a rerun: a target is
 * judged on the per-repetition values (ratios, bytes, milliseconds), and
 * called met or missed only when the whole min–max spread is on one side of
 * it; when the spread straddles it the verdict is "within noise".
 *
 * @module
 */
import { median } from "./lib.ts";

/** Which side of the target is good. */
export type Better = "higher" | "lower";

/** How a verdict reads its values: unit suffix, digits, and which side is good. */
export interface Judged {
  /** `"met"`, `"missed"`, `"within noise"` or `"not measured"`. */
  status: "met" | "missed" | "within noise" | "not measured";
  /** One line: status, by how much, median [min–max] and the target. */
  text: string;
}

const num = (x: number, digits: number) =>
  Number.isFinite(x)
    ? x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";

/**
 * Judges per-repetition `values` against `need`.
 *
 * @param values One value per repetition.
 * @param need The target.
 * @param better `"higher"`: values ≥ need meet it; `"lower"`: values ≤ need do.
 * @param unit Suffix of the figures (`"×"`, `" B"`, `" ms"`).
 * @param digits Decimals shown.
 * @returns The verdict.
 */
export function judge(
  values: readonly number[],
  need: number,
  better: Better,
  unit = "×",
  digits = 2,
): Judged {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return { status: "not measured", text: "not measured" };
  const med = median(v);
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  const fig = `${num(med, digits)}${unit} [${num(lo, digits)}–${
    num(hi, digits)
  }] (${v.length} reps)`;
  const goal = `${better === "higher" ? "≥" : "≤"} ${num(need, digits)}${unit}`;
  const good = (x: number) => (better === "higher" ? x >= need : x <= need);
  // By how much the median is off (relative for ratios, absolute for bytes and ms).
  const off = unit === "×"
    ? `${num(Math.abs(med / need - 1) * 100, 0)}%`
    : `${num(Math.abs(med - need), digits)}${unit}`;
  if (good(lo) && good(hi)) return { status: "met", text: `met: ${fig}, target ${goal}` };
  if (!good(lo) && !good(hi)) {
    return { status: "missed", text: `**missed** by ${off}: ${fig}, target ${goal}` };
  }
  const side = good(med) ? "median meets it" : `median off by ${off}`;
  return { status: "within noise", text: `within noise (${side}): ${fig}, target ${goal}` };
}
