/**
 * The `it` of a suite that several drivers register, each with its own known
 * gaps: a test whose title a driver declares as a gap is registered as
 * skipped, with the reason, instead of failing; and a declared gap that
 * names no test is an error, so a renamed test cannot leave a stale gap
 * behind.
 *
 * @module
 */
import { it as nodeIt } from "node:test";

/** A test body. */
type TestBody = () => void | Promise<void>;

/** The `it` and the end check that {@linkcode gappedTests} returns. */
export interface GappedTests {
  /**
   * Registers a test; skipped with `gap of <driver>: <reason>` when the driver
   * declares a gap for its title, else with `options.skip` if given.
   */
  it(title: string, fn: TestBody): void;
  it(title: string, options: { skip: string | false }, fn: TestBody): void;
  /** Throws unless every declared gap is the title of a test `it` registered: call it last. */
  checkGaps(): void;
}

/**
 * Gap-aware test registration for one driver's run of a shared suite.
 *
 * @param suite The suite's name, for the error of a gap that names no test.
 * @param driver The driver's name, shown in the skip reason.
 * @param gaps Test title → the reason the driver cannot pass it.
 *
 * @example One suite, one driver with one gap
 * ```ts ignore
 * const { it, checkGaps } = gappedTests("poolSuite", name, gaps);
 * describe(`pool over ${name}`, () => {
 *   it("serves a query", async () => {});
 *   checkGaps();
 * });
 * ```
 */
export function gappedTests(
  suite: string,
  driver: string,
  gaps: Readonly<Record<string, string>> = {},
): GappedTests {
  const titles = new Set<string>();
  function it(title: string, fn: TestBody): void;
  function it(title: string, options: { skip: string | false }, fn: TestBody): void;
  function it(title: string, ...rest: [{ skip: string | false }, TestBody] | [TestBody]): void {
    titles.add(title);
    const gap = Object.hasOwn(gaps, title) ? `gap of ${driver}: ${gaps[title]}` : undefined;
    const [skip, fn] = rest.length === 2 ? [rest[0].skip, rest[1]] : [false as const, rest[0]];
    nodeIt(title, { skip: gap ?? skip }, fn);
  }
  function checkGaps(): void {
    const unknown = Object.keys(gaps).filter((title) => !titles.has(title));
    if (unknown.length > 0) {
      throw new Error(`${suite}(): no test is titled ${JSON.stringify(unknown)}`);
    }
  }
  return { it, checkGaps };
}
