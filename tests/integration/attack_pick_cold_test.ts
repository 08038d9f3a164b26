/**
 * A pipelined group hit cold: many callers in one turn before any session is
 * open. Only the callers that found no session wait, and they share the first
 * one; the next bursts spread over every session.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

let seq = 0;

for (const { name, make } of runtimeDrivers()) {
  describe(`a cold pipelined group over ${name}`, () => {
    let server: TestServer;
    const pools: Pool[] = [];

    before(async () => {
      server = (await sharedServers())[0];
    });

    after(async () => {
      await Promise.all(pools.map((p) => p.end()));
    });

    async function burst(pool: Pool, n: number): Promise<Map<number, number>> {
      const pids = await Promise.all(
        Array.from(
          { length: n },
          () =>
            pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid").then((r) =>
              Number(r.rows[0].pid)
            ),
        ),
      );
      const per = new Map<number, number>();
      for (const p of pids) per.set(p, (per.get(p) ?? 0) + 1);
      return per;
    }

    it("600 callers at once on a cold group all succeed; later bursts spread over every session", async () => {
      const pool = createPool({
        db: endpointOf(server, { application_name: `atk_pickc_${++seq}` }),
        groups: { default: { connection_count: 3, pipeline: true } },
        driver: make(),
      });
      pools.push(pool);
      // Every caller found no session: they wait, and share the first one that opens.
      const cold = await burst(pool, 600);
      assert.equal([...cold.values()].reduce((a, b) => a + b), 600);
      const deadline = Date.now() + 4000;
      let per = new Map<number, number>();
      while (Date.now() < deadline) {
        per = await burst(pool, 600);
        if (per.size === 3) break;
      }
      // The others opened meanwhile: the fewest holders first spreads the load evenly.
      assert.equal(per.size, 3, `sessions used: ${[...per.values()]}`);
      for (const c of per.values()) assert.ok(c >= 150, `per session: ${[...per.values()]}`);
    });
  });
}
