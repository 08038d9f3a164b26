/**
 * What release does before the next caller gets the session: never hand out
 * a session with a query of the previous holder still in flight, and never
 * destroy a healthy one because its cleanup met a statement already gone.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, QueryError } from "../../mod.ts";
import { defaultResponder, FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let driver: FakeDriver;
let clock: FakeClock;
let pool: Pool;

function setup(autocommit = true): void {
  driver = new FakeDriver();
  clock = new FakeClock();
  pool = createPool({
    db: { host: "a" },
    groups: { g: { connection_count: 1, autocommit } },
    driver,
  }, { clock });
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Holds back the answer to `text` until `open()`. */
function gate(text: string): { reached: () => boolean; open: () => void } {
  let reached = false;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  driver.respond = async (t, params, s) => {
    if (t !== text) return defaultResponder(t, params, s);
    reached = true;
    await opened;
    return defaultResponder(t, params, s);
  };
  return { reached: () => reached, open };
}

afterEach(async () => {
  const ending = pool.end();
  clock.advance(60_000);
  await ending;
  assert.equal(driver.open.size, 0, "sessions left open");
});

describe("release with a query still in flight", () => {
  it("does not hand the session to the next caller until the stray query answered", async () => {
    setup();
    const slow = gate("SELECT slow");
    let stray: Promise<unknown> | undefined;
    const first = pool.withHandler("g", (db) => {
      stray = db.query("SELECT slow"); // fn returns without awaiting it
      return 1;
    });
    await tick();
    assert.ok(slow.reached());
    const order: string[] = [];
    const second = pool.withHandler("g", async (db) => {
      order.push("second runs");
      await db.query("SELECT 2");
    });
    await tick();
    assert.equal(pool.stats().groups.g.leased, 1, "still held for the stray query");
    assert.equal(order.length, 0);
    slow.open();
    await stray;
    order.push("stray answered");
    assert.equal(await first, 1);
    await second;
    assert.deepEqual(order, ["stray answered", "second runs"]);
    assert.equal(driver.sessions.length, 1, "the session was kept");
  });

  it("destroys the session when the stray query does not answer within pingTimeoutMs", async () => {
    setup();
    const slow = gate("SELECT slow");
    let stray: Promise<unknown> | undefined;
    const first = pool.withHandler("g", (db) => {
      stray = db.query("SELECT slow");
      return 1;
    });
    await tick();
    const straySettled = stray!.then(() => "answered", () => "failed");
    clock.advance(5000);
    assert.equal(await first, 1);
    slow.open(); // the server answers into a closed session: the driver rejects
    assert.equal(await straySettled, "failed", "the session was closed under it");
    assert.equal(pool.stats().groups.g.total, 0);
    assert.equal(await pool.withHandler("g", () => "next"), "next");
  });
});

describe("release after PREPARE", () => {
  function deallocateGone(): void {
    driver.respond = (text, params, s) => {
      const name = /^DEALLOCATE (\w+)$/.exec(text)?.[1];
      const deallocations = s.log.filter((t) => t === text).length;
      const prepared = s.log.some((t) => t.startsWith(`PREPARE ${name} AS SELECT`));
      if (text.includes("SELEC ")) {
        throw new QueryError('syntax error at or near "SELEC"', { code: "42601" });
      }
      if (name && (deallocations > 1 || !prepared)) {
        throw new QueryError(`prepared statement "${name}" does not exist`, { code: "26000" });
      }
      return defaultResponder(text, params, s);
    };
  }

  it("keeps the session when fn deallocated its own statement", async () => {
    setup();
    deallocateGone();
    await pool.withHandler("g", async (db) => {
      await db.query("PREPARE q AS SELECT 1");
      await db.query("DEALLOCATE q");
    });
    assert.deepEqual([pool.stats().groups.g.idle, pool.stats().groups.g.destroyed], [1, 0]);
    await pool.withHandler("g", (db) => db.query("SELECT 1"));
    assert.equal(driver.sessions.length, 1, "no reconnect");
  });

  it("keeps the session when the PREPARE itself failed", async () => {
    setup();
    deallocateGone();
    await assert.rejects(
      pool.withHandler("g", (db) => db.query("PREPARE q AS SELEC 1")),
      (err) => err instanceof QueryError,
    );
    assert.deepEqual([pool.stats().groups.g.idle, pool.stats().groups.g.destroyed], [1, 0]);
  });

  it("still deallocates every statement fn left, and resets the rest", async () => {
    setup();
    deallocateGone();
    await pool.withHandler("g", async (db) => {
      await db.query("PREPARE a AS SELECT 1");
      await db.query("PREPARE b AS SELECT 2");
      await db.query("SET search_path = x");
    });
    const log = driver.sessions[0].log;
    assert.ok(log.some((t) => t.includes("DEALLOCATE a")), log.join(" | "));
    assert.ok(log.some((t) => t.includes("DEALLOCATE b")), log.join(" | "));
    assert.ok(log.some((t) => t.includes("RESET ALL")), log.join(" | "));
    assert.equal(pool.stats().groups.g.idle, 1);
  });
});
