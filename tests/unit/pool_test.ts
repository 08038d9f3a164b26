import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AcquireTimeoutError,
  CommitUnknownError,
  ConnectionError,
  createPool,
  HandlerReleasedError,
  OfflineError,
  type Pool,
  PoolClosedError,
  QueryError,
  UnconfiguredGroupError,
} from "../../mod.ts";
import { defaultResponder, FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

const A = { host: "a", port: 5432, user: "u", pass: "hunter2-secret" };
const B = { host: "b", port: 5433, user: "u", pass: "hunter2-secret" };

// Every pool a test creates, with its own driver and clock: each is checked for leaks.
let pools: { pool: Pool; driver: FakeDriver; clock: FakeClock }[] = [];
let driver: FakeDriver;
let clock: FakeClock;

function pool(
  groups: Record<string, { connection_count: number; autocommit?: boolean }>,
  db: object[] = [A, B],
  extra: Record<string, unknown> = {},
): Pool {
  driver = new FakeDriver();
  clock = new FakeClock();
  const p = createPool({ db, groups, driver, ...extra }, { clock });
  pools.push({ pool: p, driver, clock });
  return p;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

afterEach(async () => {
  for (const { pool: p, driver, clock } of pools) {
    const ending = p.end();
    clock.advance(60_000);
    await ending;
    // Nothing leaks: every session the pool opened is closed.
    assert.equal(driver.open.size, 0, "sessions left open");
    for (const g of Object.values(p.stats().groups)) assert.equal(g.leased, 0);
  }
  pools = [];
});

describe("withHandler()", () => {
  it("returns what fn returns and releases the connection", async () => {
    const p = pool({ g: { connection_count: 2 } });
    const v = await p.withHandler("g", async (db) => (await db.query("SELECT $1", [7])).rows[0]);
    assert.equal((v as { value: number }).value, 7);
    const s = p.stats().groups.g;
    assert.deepEqual([s.total, s.idle, s.leased, s.waiting], [1, 1, 0, 0]);
  });

  it("rotates over the endpoints even when calls come one at a time", async () => {
    const p = pool({ g: { connection_count: 4 } });
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      await p.withHandler("g", (db) => {
        seen.push(db.endpoint.host);
      });
    }
    // The first calls are served by a's idle session while b's opens in the
    // background (no caller waits on a new connection when one is idle).
    assert.deepEqual(seen.slice(4), ["a", "b", "a", "b"]);
    assert.deepEqual(p.stats().endpoints.map((e) => e.connections), [1, 1]);
  });

  it("opens a connection on the next endpoint rather than reuse another's while under the limit", async () => {
    const p = pool({ g: { connection_count: 4 } });
    await Promise.all([1, 2, 3, 4].map(() => p.withHandler("g", () => tick())));
    assert.deepEqual(p.stats().endpoints.map((e) => e.connections), [2, 2]);
  });

  it("serves a caller from an idle session of another endpoint, not after a connect that hangs", async () => {
    const p = pool({ g: { connection_count: 2 } });
    await p.withHandler("g", () => 1); // a's session, idle now
    driver.hanging.set("b:5433", []);
    const host = await p.withHandler("g", (db) => db.endpoint.host);
    assert.equal(host, "a");
    assert.equal(p.stats().groups.g.pending, 1, "b's connect goes on in the background");
    for (const go of driver.hanging.get("b:5433")!) go();
    driver.hanging.delete("b:5433");
    await tick();
    assert.deepEqual([p.stats().groups.g.idle, p.stats().groups.g.pending], [2, 0]);
  });

  it("hands a caller waiting on a hanging connect the first session released", async () => {
    const p = pool({ g: { connection_count: 2 } });
    const held = await p.lease("g");
    driver.hanging.set("b:5433", []);
    const waiting = p.withHandler("g", (db) => db.endpoint.host);
    await tick();
    await held.release();
    assert.equal(await waiting, "a");
    for (const go of driver.hanging.get("b:5433")!) go();
    driver.hanging.delete("b:5433");
    await tick();
    assert.equal(p.stats().groups.g.idle, 2, "the late session joined the idle set");
  });

  it("runs fn in a transaction for autocommit: false and commits on return", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    await p.withHandler("tx", async (db) => {
      await db.query("INSERT INTO t VALUES (1)");
      await db.query("INSERT INTO t VALUES (2)");
    });
    assert.deepEqual(driver.sessions[0].log, [
      "BEGIN",
      "INSERT INTO t VALUES (1)",
      "INSERT INTO t VALUES (2)",
      "COMMIT",
    ]);
  });

  it("sends no BEGIN or COMMIT when fn ran no query", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    await p.withHandler("tx", () => 1);
    assert.equal(driver.queries.length, 0);
  });

  it("rolls back and rethrows fn's own error unchanged", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    const boom = new Error("boom");
    await assert.rejects(
      p.withHandler("tx", async (db) => {
        await db.query("INSERT INTO t VALUES (1)");
        throw boom;
      }),
      (err) => err === boom,
    );
    assert.deepEqual(driver.sessions[0].log, ["BEGIN", "INSERT INTO t VALUES (1)", "ROLLBACK"]);
    assert.equal(p.stats().groups.tx.idle, 1);
  });

  it("commit() mid-way commits and the next query opens a new transaction", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    await p.withHandler("tx", async (db) => {
      await db.query("INSERT 1");
      await db.commit();
      await db.query("INSERT 2");
    });
    assert.deepEqual(driver.sessions[0].log, [
      "BEGIN",
      "INSERT 1",
      "COMMIT",
      "BEGIN",
      "INSERT 2",
      "COMMIT",
    ]);
  });

  it("reports a failed transaction as QueryError 25P02 instead of a silent rollback", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    await assert.rejects(
      p.withHandler("tx", async (db) => {
        await db.query("INSERT 1");
        await db.query("FAIL").catch(() => {}); // fn swallows the error
        return "looks fine";
      }),
      (err) => err instanceof QueryError && err.code === "25P02",
    );
    // The session is clean and reused.
    await p.withHandler("tx", (db) => db.query("INSERT 2"));
    assert.equal(driver.sessions.length, 1);
    assert.equal(driver.sessions[0].tx, "idle");
  });

  it("passes a QueryError through with its SQLSTATE and keeps the connection", async () => {
    const p = pool({ g: { connection_count: 1 } });
    await assert.rejects(
      p.withHandler("g", (db) => db.query("FAIL")),
      (err) => err instanceof QueryError && err.code === "42601" && err.position === 1,
    );
    await p.withHandler("g", (db) => db.query("SELECT 1"));
    assert.equal(driver.sessions.length, 1);
  });

  it("never reports success when the connection broke inside the transaction", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    await assert.rejects(
      p.withHandler("tx", async (db) => {
        await db.query("INSERT 1");
        await db.query("KILL").catch(() => {});
        return "swallowed";
      }),
      (err) => err instanceof ConnectionError && !(err instanceof CommitUnknownError),
    );
    assert.equal(p.stats().groups.tx.total, 0);
    await p.withHandler("tx", (db) => db.query("INSERT 2"));
    assert.equal(driver.sessions.length, 2);
  });

  it("throws CommitUnknownError when the connection is lost with COMMIT in flight", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    driver.respond = (text, params, s) => {
      if (text === "COMMIT") {
        s.kill();
        throw new Error("socket closed");
      }
      return defaultResponder(text, params, s);
    };
    await assert.rejects(
      p.withHandler("tx", (db) => db.query("INSERT 1")),
      (err) => err instanceof CommitUnknownError && err instanceof ConnectionError,
    );
    assert.equal(p.stats().groups.tx.total, 0);
  });

  it("rolls back a transaction left open in an autocommit group before reuse", async () => {
    const p = pool({ g: { connection_count: 1 } });
    await p.withHandler("g", async (db) => {
      await db.query("BEGIN");
      await db.query("INSERT 1");
    });
    assert.deepEqual(driver.sessions[0].log, ["BEGIN", "INSERT 1", "ROLLBACK"]);
    assert.equal(driver.sessions[0].tx, "idle");
  });

  it("rolls back after multi-statement text whose final state it cannot know", async () => {
    const p = pool({ g: { connection_count: 1 } });
    await p.withHandler("g", (db) => db.query("BEGIN; INSERT 1"));
    assert.equal(driver.sessions[0].log.at(-1), "ROLLBACK");
  });

  it("rejects an unknown group with UnconfiguredGroupError naming it", async () => {
    const p = pool({ g: { connection_count: 1 } });
    await assert.rejects(
      p.withHandler("nope", () => 1),
      (err) => err instanceof UnconfiguredGroupError && err.message.includes('"nope"'),
    );
  });

  it("times out with AcquireTimeoutError showing the pool state", async () => {
    const p = pool({ g: { connection_count: 1 } }, [{ ...A, query_timeout: 0 }], {
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
    });
    const held = await p.lease("g");
    const waiting = p.withHandler("g", () => 1, { timeoutMs: 100 });
    await tick();
    assert.equal(p.stats().groups.g.waiting, 1);
    clock.advance(100);
    await assert.rejects(
      waiting,
      (err) =>
        err instanceof AcquireTimeoutError &&
        /total=1, leased=1, idle=0, waiting=1/.test(err.message),
    );
    assert.equal(p.stats().groups.g.waiting, 0);
    await held.release();
    assert.equal(clock.pendingTimers, 0);
  });

  it("serves waiters in FIFO order", async () => {
    const p = pool({ g: { connection_count: 1 } });
    const held = await p.lease("g");
    const order: number[] = [];
    const calls = [1, 2, 3, 4].map((n) => p.withHandler("g", () => order.push(n)));
    await tick();
    await held.release();
    await Promise.all(calls);
    assert.deepEqual(order, [1, 2, 3, 4]);
  });

  it("rejects a waiting call when its signal aborts, and forgets it", async () => {
    const p = pool({ g: { connection_count: 1 } });
    const held = await p.lease("g");
    const ac = new AbortController();
    const waiting = p.withHandler("g", () => 1, { signal: ac.signal });
    await tick();
    const reason = new Error("user gave up");
    ac.abort(reason);
    await assert.rejects(waiting, (err) => err === reason);
    assert.equal(p.stats().groups.g.waiting, 0);
    await held.release();
    assert.equal(p.stats().groups.g.idle, 1);
  });

  it("drops the session when the signal aborts while fn runs", async () => {
    const p = pool({ g: { connection_count: 1 } });
    const ac = new AbortController();
    let late: Promise<unknown> | undefined;
    const call = p.withHandler("g", (db) =>
      new Promise(() => {
        setTimeout(() => {
          late = db.query("SELECT 1").catch((err) => err);
        }, 5);
      }), { signal: ac.signal });
    await tick();
    ac.abort(new Error("stop"));
    await assert.rejects(call, /stop/);
    assert.equal(p.stats().groups.g.total, 0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok((await late) instanceof HandlerReleasedError);
  });

  it("pings a connection idle past the window and replaces one that fails", async () => {
    const p = pool({ g: { connection_count: 1 } }, [A], { pingAfterIdleMs: 1000 });
    await p.withHandler("g", (db) => db.query("SELECT 1"));
    await p.withHandler("g", (db) => db.query("SELECT 2"));
    assert.deepEqual(driver.sessions[0].log, ["SELECT 1", "SELECT 2"]); // no ping yet
    clock.advance(1001);
    await p.withHandler("g", (db) => db.query("SELECT 3"));
    assert.deepEqual(driver.sessions[0].log.slice(2), ["SELECT 1", "SELECT 3"]); // pinged
    clock.advance(1001);
    driver.respond = (text, params, s) => {
      if (text === "SELECT 1") {
        s.kill();
        throw new Error("terminating connection due to administrator command");
      }
      return defaultResponder(text, params, s);
    };
    const got = await p.withHandler("g", async (db) => (await db.query("SELECT 4")).rows[0]);
    assert.equal((got as { pid: number }).pid, driver.sessions[1].pid);
  });

  it("replaces an idle connection whose session died, without the caller seeing it", async () => {
    const p = pool({ g: { connection_count: 1 } }, [A]);
    await p.withHandler("g", (db) => db.query("SELECT 1"));
    driver.sessions[0].kill();
    await p.withHandler("g", (db) => db.query("SELECT 1"));
    assert.equal(driver.sessions.length, 2);
  });

  it("skips an endpoint that is down and probes it again after its back-off", async () => {
    const p = pool({ g: { connection_count: 4 } });
    driver.down.add("b:5433");
    await Promise.all([1, 2, 3, 4].map(() => p.withHandler("g", () => tick())));
    let eps = p.stats().endpoints;
    assert.deepEqual(eps.map((e) => [e.connections, e.up]), [[4, true], [0, false]]);
    assert.match(eps[1].lastError!, /ECONNREFUSED/);
    driver.down.delete("b:5433");
    clock.advance(60_000);
    // Leases rotate: b is due again, but a has idle sessions and the limit is reached.
    await Promise.all([1, 2, 3, 4].map(() => p.withHandler("g", () => tick())));
    eps = p.stats().endpoints;
    assert.equal(eps[1].up, false, "not probed while the group is full");
  });

  it("rejects with OfflineError when no endpoint can be reached, without the password", async () => {
    const p = pool({ g: { connection_count: 2 } });
    driver.down.add("a:5432");
    driver.down.add("b:5433");
    await assert.rejects(p.withHandler("g", () => 1), (err) => {
      assert.ok(err instanceof OfflineError);
      assert.match(err.message, /a:5432/);
      assert.match(err.message, /b:5433/);
      assert.ok(!err.message.includes("hunter2"));
      return true;
    });
    // Both are backed off now: the next call fails at once, without connecting.
    const attempts = driver.connectAttempts.length;
    await assert.rejects(p.withHandler("g", () => 1), OfflineError);
    assert.equal(driver.connectAttempts.length, attempts);
    assert.equal(p.stats().groups.g.total, 0);
  });

  it("never opens more sessions than connection_count under 200 concurrent calls", async () => {
    const p = pool({ g: { connection_count: 5 } });
    const results = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          p.withHandler("g", async (db) => (await db.query("SELECT $1", [i])).rows[0].value),
      ),
    );
    assert.deepEqual(results, Array.from({ length: 200 }, (_, i) => i));
    assert.equal(driver.maxOpen, 5);
    assert.equal(p.stats().groups.g.leased, 0);
  });
});

describe("lease()", () => {
  it("works with await using and releases at block end", async () => {
    const p = pool({ g: { connection_count: 1 } });
    {
      await using db = await p.lease("g");
      await db.query("SELECT 1");
      assert.equal(p.stats().groups.g.leased, 1);
    }
    assert.equal(p.stats().groups.g.leased, 0);
  });

  it("makes a released handler throw HandlerReleasedError, and release() twice harmless", async () => {
    const p = pool({ g: { connection_count: 1 } });
    const db = await p.lease("g");
    await db.release();
    await db.release();
    await assert.rejects(db.query("SELECT 1"), HandlerReleasedError);
    await assert.rejects(db.commit(), HandlerReleasedError);
    assert.equal(p.stats().groups.g.idle, 1);
  });

  it("rolls back uncommitted work of a transactional group on release", async () => {
    const p = pool({ tx: { connection_count: 1, autocommit: false } });
    const db = await p.lease("tx");
    await db.query("INSERT 1");
    await db.release();
    assert.deepEqual(driver.sessions[0].log, ["BEGIN", "INSERT 1", "ROLLBACK"]);
  });
});

describe("end()", () => {
  it("waits for leased handlers, closes everything, then refuses new leases", async () => {
    const p = pool({ g: { connection_count: 2 } });
    const db = await p.lease("g");
    await p.withHandler("g", () => 1);
    let ended = false;
    const ending = p.end().then(() => (ended = true));
    await tick();
    assert.equal(ended, false);
    await db.release();
    await ending;
    assert.equal(driver.open.size, 0);
    await assert.rejects(p.withHandler("g", () => 1), PoolClosedError);
    await assert.rejects(p.lease("g"), PoolClosedError);
  });

  it("closes sessions of handlers that do not come back within endTimeoutMs", async () => {
    const p = pool({ g: { connection_count: 1 } }, [A], { endTimeoutMs: 500 });
    const db = await p.lease("g");
    const ending = p.end();
    clock.advance(500);
    await ending;
    assert.equal(driver.open.size, 0);
    await assert.rejects(db.query("SELECT 1"), ConnectionError);
  });

  it("rejects queued waiters with PoolClosedError", async () => {
    const p = pool({ g: { connection_count: 1 } });
    const db = await p.lease("g");
    const waiting = p.withHandler("g", () => 1);
    await tick();
    const ending = p.end();
    await assert.rejects(waiting, PoolClosedError);
    await db.release();
    await ending;
  });
});
