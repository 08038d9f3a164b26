/**
 * A pipelined group hit cold: many callers in one turn before any session is
 * open. Only the callers that found no session wait, and they share the first
 * one; the next bursts spread over every session.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { serverScope } from "../support/server_scope.ts";
import { appName, until } from "../support/backend_probe.ts";
import { burst, countBy, pidsOf } from "../support/caller_burst.ts";

for (const { name, make } of runtimeDrivers()) {
  describe(`a cold pipelined group over ${name}`, () => {
    const scope = serverScope();

    /** Callers per session of one burst of `n`, all of which must succeed. */
    async function perSession(pool: Pool, n: number): Promise<Map<number, number>> {
      const { rows, errors } = await burst(pool, n).done;
      assert.deepEqual(errors.map(String), []);
      return countBy(pidsOf(rows));
    }

    it("600 callers at once on a cold group all succeed; later bursts spread over every session", async () => {
      const pool = scope.keep(createPool({
        db: endpointOf(scope.server, { application_name: appName("atk_pickc") }),
        groups: { default: { connection_count: 3, pipeline: true } },
        driver: make(),
      }));
      // Every caller found no session: they wait, and share the first one that opens.
      const cold = await perSession(pool, 600);
      assert.equal([...cold.values()].reduce((a, b) => a + b), 600);
      // The others opened meanwhile: the fewest holders first spreads the load evenly.
      let per = new Map<number, number>();
      await until(
        () => `a burst on all 3 sessions (sessions used: ${[...per.values()]})`,
        async () => (per = await perSession(pool, 600)).size === 3,
        { everyMs: 0 },
      );
      for (const c of per.values()) assert.ok(c >= 150, `per session: ${[...per.values()]}`);
    });
  });
}
