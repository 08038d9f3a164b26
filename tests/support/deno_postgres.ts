/**
 * deno-postgres for the integration tests: it comes from JSR, which this repo
 * never imports, so a test run uses a local copy named by
 * `PGDBPOOL_DENO_POSTGRES` (README: Testing the deno-postgres adapter), and
 * says why it skips when there is none.
 *
 * @module
 */
import type { DenoPostgresClientConstructor } from "../../src/drivers/deno_postgres/mod.ts";

const ENV_VAR = "PGDBPOOL_DENO_POSTGRES";

/** Why the deno-postgres tests cannot run here, or undefined when they can. */
export function whyDenoPostgresSkips(): string | undefined {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  if (runtime.Deno === undefined) {
    const here = runtime.Bun === undefined ? "Node" : "Bun";
    return `deno-postgres runs on Deno only (it uses Deno.connect), not on ${here}: ` +
      "run this file with deno test.";
  }
  if (!Deno.env.get(ENV_VAR)) {
    return `${ENV_VAR} is not set. deno-postgres comes from JSR, which is unreachable here ` +
      `and never imported by this repo. To run: check out denodrivers/postgres and the ` +
      `@std packages it uses outside the repo, then run with ${ENV_VAR}=<copy>/mod.ts ` +
      "and --import-map=<map resolving @std/*> (README: Testing the deno-postgres adapter).";
  }
  return undefined;
}

/** deno-postgres's Client class from the copy `PGDBPOOL_DENO_POSTGRES` names. */
export async function loadClient(): Promise<DenoPostgresClientConstructor> {
  const path = Deno.env.get(ENV_VAR) ?? "";
  const url = /^[a-z][a-z0-9+.-]*:/i.test(path)
    ? new URL(path)
    : new URL(path, `file://${Deno.cwd()}/`);
  let mod: { Client?: unknown };
  try {
    mod = await import(url.href);
  } catch (err) {
    throw new Error(
      `Cannot import deno-postgres from ${ENV_VAR}="${path}": pass an --import-map that ` +
        `maps its @std/* imports to local copies`,
      { cause: err },
    );
  }
  if (typeof mod.Client !== "function") {
    throw new TypeError(`${ENV_VAR}="${path}" does not export deno-postgres's Client class`);
  }
  return mod.Client as DenoPostgresClientConstructor;
}
