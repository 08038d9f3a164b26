/**
 * Misuse and bad input, over the fake driver: each case ends in a clear,
 * typed error, and the pool stays healthy afterwards (a withHandler succeeds
 * and nothing is left leased). Cases that need a real server (huge parameter
 * lists, SQL syntax errors) are in tests/integration/misuse_test.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AcquireTimeoutError,
  ConnectionError,
  createPool,
  type Handler,
  HandlerReleasedError,
  type Pool,
  PoolClosedError,
  PoolError,
} from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

const A = { host: "a", port: 5432, user: "u", pass: "pw" };

interface Made {
  pool: Pool;
  driver: FakeDriver;
  clock: FakeClock | undefined;
}

let made: Made[] = [];

function setup(
  groups: Record<string, { connection_count: number; autocommit?: boolean; pipeline?: boolean }>,
  extra: Record<string, unknown> = {},
  { realClock = false } = {},
): Made & { clock: FakeClock } {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = createPool(
    { db: [A], groups, driver, ...extra },
    realClock ? {} : { clock },
  );
  const m = { pool, driver, clock: realClock ? undefined : clock };
  made.push(m);
  return { pool, driver, clock };
}

/** Runs every promise chain to rest (the fake driver and clock use no real timers). */
function settle(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => immediate ? immediate(resolve) : setTimeout(resolve, 0));
}

/** A promise's state, without waiting for it. */
function track<T>(
  p: Promise<T>,
): { state: "pending" | "resolved" | "rejected"; value?: T; error?: unknown } {
  const t: { state: "pending" | "resolved" | "rejected"; value?: T; error?: unknown } = {
    state: "pending",
  };
  p.then(
    (value) => Object.assign(t, { state: "resolved", value }),
    (error) => Object.assign(t, { state: "rejected", error }),
  );
  return t;
}

/** The pool works and holds nothing: a withHandler succeeds and leaves `leased` at 0. */
async function assertHealthy(pool: Pool, group: string): Promise<void> {
  const v = await pool.withHandler(
    group,
    async (db) => (await db.query<{ value: number }>("SELECT $1", [42])).rows[0].value,
    { timeoutMs: 1000 },
  );
  assert.equal(v, 42);
  assert.equal(pool.stats().groups[group].leased, 0, "a connection is still leased");
  assert.equal(pool.stats().groups[group].waiting, 0, "a caller is still queued");
}

afterEach(async () => {
  for (const { pool, driver, clock } of made) {
    const ending = pool.end();
    clock?.advance(1_000_000);
    await ending;
    await settle();
    assert.equal(driver.open.size, 0, "sessions left open");
    for (const s of Object.values(pool.stats().groups)) assert.equal(s.leased, 0);
  }
  made = [];
});

describe("misuse: a handler used after release", () => {
  it("withHandler()'s handler throws HandlerReleasedError from every method once fn returned", async () => {
    const { pool } = setup({ tx: { connection_count: 1, autocommit: false } });
    let kept: Handler | undefined;
    await pool.withHandler("tx", async (db) => {
      kept = db;
      await db.query("INSERT INTO t VALUES (1)");
    });
    const db = kept!;
    await assert.rejects(db.query("SELECT 1"), HandlerReleasedError);
    await assert.rejects(db.commit(), HandlerReleasedError);
    await assert.rejects(db.rollback(), HandlerReleasedError);
    assert.throws(() => db.markDirty(), HandlerReleasedError);
    await db.release(); // a no-op, not an error
    await assertHealthy(pool, "tx");
  });

  it("a callback that fires after fn returned gets HandlerReleasedError, and the next caller's session never sees its query", async () => {
    const { pool, driver } = setup({ g: { connection_count: 1 } });
    let late: Promise<unknown> | undefined;
    const fired = new Promise<void>((resolve) => {
      pool.withHandler("g", (db) => {
        setTimeout(() => {
          late = db.query("SELECT 'late'").catch((err) => err);
          resolve();
        }, 0);
        return "returned before the callback";
      });
    });
    // Meanwhile the one session goes to another caller, who is mid-way when the callback fires.
    let release!: () => void;
    const other = pool.withHandler("g", async (db) => {
      await db.query("SELECT 'other'");
      await new Promise<void>((r) => (release = r));
      await db.query("SELECT 'other again'");
    });
    await fired;
    assert.ok((await late) instanceof HandlerReleasedError);
    release();
    await other;
    assert.ok(!driver.queries.some((q) => q.text === "SELECT 'late'"), "the late query ran");
    assert.equal(driver.sessions.length, 1);
    await assertHealthy(pool, "g");
  });

  it("lease()'s handler throws HandlerReleasedError after release(), also from a later callback", async () => {
    const { pool, driver } = setup({ g: { connection_count: 1 } });
    const db = await pool.lease("g");
    await db.query("SELECT 1");
    await db.release();
    await assert.rejects(
      db.query("SELECT 2"),
      (err) =>
        err instanceof HandlerReleasedError && err instanceof PoolError &&
        err.name === "HandlerReleasedError" && /query/.test(err.message),
    );
    const later = await new Promise<unknown>((resolve) =>
      setTimeout(() => db.query("SELECT 'late'").then(resolve, resolve), 0)
    );
    assert.ok(later instanceof HandlerReleasedError);
    assert.ok(!driver.queries.some((q) => q.text === "SELECT 'late'"));
    await assertHealthy(pool, "g");
  });

  it("release() twice: the second call is a no-op and the session goes to one caller only", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } });
    const db = await pool.lease("g");
    await db.release();
    await db.release();
    await db[Symbol.asyncDispose]();
    const s = pool.stats().groups.g;
    assert.deepEqual([s.total, s.idle, s.leased], [1, 1, 0]);
    // Had the session been offered twice, both of these would get it.
    const first = await pool.lease("g");
    const second = track(pool.lease("g", { timeoutMs: 100 }));
    await settle();
    assert.equal(second.state, "pending");
    clock.advance(100);
    await settle();
    assert.ok(second.error instanceof AcquireTimeoutError);
    await first.release();
    await assertHealthy(pool, "g");
  });
});

describe("misuse: waiting on oneself", () => {
  it("withHandler() nested on the same one-connection group ends in AcquireTimeoutError, not a hang", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1, autocommit: false } });
    const outer = track(pool.withHandler("g", async (db) => {
      await db.query("INSERT INTO t VALUES (1)");
      return await pool.withHandler("g", (inner) => inner.query("SELECT 1"), { timeoutMs: 250 });
    }));
    await settle();
    assert.equal(outer.state, "pending");
    assert.equal(pool.stats().groups.g.waiting, 1);
    clock.advance(250);
    await settle();
    assert.equal(outer.state, "rejected");
    assert.ok(outer.error instanceof AcquireTimeoutError, String(outer.error));
    assert.match((outer.error as Error).message, /total=1, leased=1, idle=0, waiting=1/);
    await assertHealthy(pool, "g");
  });

  it("withHandler() nested without timeoutMs ends after the pool's acquireTimeoutMs", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } }, { acquireTimeoutMs: 2000 });
    const outer = track(
      pool.withHandler("g", () => pool.withHandler("g", () => "never")),
    );
    await settle();
    clock.advance(1999);
    await settle();
    assert.equal(outer.state, "pending");
    clock.advance(1);
    await settle();
    assert.ok(outer.error instanceof AcquireTimeoutError, String(outer.error));
    await assertHealthy(pool, "g");
  });
});

describe("misuse: fn that never settles", () => {
  it("withHandler() rejects with the signal's reason, drops the connection and stays healthy", async () => {
    const { pool, driver } = setup({ tx: { connection_count: 1, autocommit: false } });
    const ac = new AbortController();
    const call = track(pool.withHandler("tx", async (db) => {
      await db.query("INSERT INTO t VALUES (1)");
      await new Promise(() => {}); // never settles
    }, { signal: ac.signal }));
    await settle();
    const session = driver.sessions[0];
    assert.equal(call.state, "pending");
    assert.equal(pool.stats().groups.tx.leased, 1);
    const reason = new DOMException("request cancelled", "AbortError");
    ac.abort(reason);
    await settle();
    assert.equal(call.state, "rejected");
    assert.equal(call.error, reason);
    // Dropped, not returned: the server rolls the open transaction back.
    assert.equal(session.closed, true);
    assert.ok(!session.log.includes("COMMIT"));
    assert.equal(pool.stats().groups.tx.total, 0);
    await assertHealthy(pool, "tx");
  });

  it(
    "withHandler() with an already-aborted signal rejects with its reason without running fn",
    {},
    async () => {
      const { pool } = setup({ g: { connection_count: 1 } });
      await pool.withHandler("g", () => 1); // an idle session is at hand
      const ac = new AbortController();
      const reason = new Error("gave up before asking");
      ac.abort(reason);
      let ran = false;
      await assert.rejects(
        pool.withHandler("g", () => (ran = true), { signal: ac.signal }),
        (err) => err === reason,
      );
      assert.equal(ran, false, "fn ran although the signal had already fired");
      assert.equal(pool.stats().groups.g.destroyed, 0, "a healthy session was destroyed");
      await assertHealthy(pool, "g");
    },
  );

  it("lease() with an already-aborted signal rejects with its reason", {}, async () => {
    const { pool } = setup({ g: { connection_count: 1 } });
    await pool.withHandler("g", () => 1); // an idle session is at hand
    const ac = new AbortController();
    const reason = new Error("gave up before asking");
    ac.abort(reason);
    const got = await pool.lease("g", { signal: ac.signal }).then(
      (h) => (h.release(), "resolved"),
      (err) => err,
    );
    assert.equal(got, reason);
    await assertHealthy(pool, "g");
  });
});

describe("misuse: end() while calls are in flight", () => {
  it("running calls finish, waiters and new calls get PoolClosedError, end() resolves with all closed", async () => {
    const { pool, driver } = setup(
      { tx: { connection_count: 2, autocommit: false }, g: { connection_count: 1 } },
    );
    const gates: (() => void)[] = [];
    const boom = new Error("fn failed");
    const committing = track(pool.withHandler("tx", async (db) => {
      await db.query("INSERT INTO t VALUES (1)");
      await new Promise<void>((r) => gates.push(r));
      return "committed";
    }));
    const failing = track(pool.withHandler("tx", async (db) => {
      await db.query("INSERT INTO t VALUES (2)");
      await new Promise<void>((r) => gates.push(r));
      throw boom;
    }));
    const leased = await pool.lease("g");
    const waiting = [track(pool.withHandler("tx", () => "never")), track(pool.lease("g"))];
    await settle();
    assert.equal(gates.length, 2);
    const ending = pool.end();
    assert.equal(pool.end(), ending, "end() twice returns the same promise");
    const ended = track(ending);
    await settle();
    for (const w of waiting) assert.ok(w.error instanceof PoolClosedError, String(w.error));
    await assert.rejects(pool.withHandler("tx", () => 1), PoolClosedError);
    await assert.rejects(pool.lease("g"), PoolClosedError);
    await assert.rejects(pool.withHandler("nope", () => 1), PoolClosedError);
    assert.equal(ended.state, "pending");
    // The running calls finish as they would have: one commits, one rolls back.
    for (const open of gates) open();
    await settle();
    assert.equal(committing.value, "committed");
    assert.equal(failing.error, boom);
    assert.ok(driver.sessions.some((s) => s.log.includes("COMMIT")));
    assert.ok(driver.sessions.some((s) => s.log.includes("ROLLBACK")));
    await leased.query("SELECT 'still mine'");
    assert.equal(ended.state, "pending");
    await leased.release();
    await settle();
    assert.equal(ended.state, "resolved");
    assert.equal(driver.open.size, 0);
    for (const s of Object.values(pool.stats().groups)) {
      assert.deepEqual([s.total, s.leased, s.waiting, s.idle], [0, 0, 0, 0]);
    }
  });

  it("a holder that never comes back: end() resolves after endTimeoutMs and its queries get ConnectionError", async () => {
    const { pool, driver, clock } = setup({ g: { connection_count: 1 } }, { endTimeoutMs: 300 });
    let db!: Handler;
    const forever = track(pool.withHandler("g", (h) => {
      db = h;
      return new Promise(() => {});
    }));
    await settle();
    const ended = track(pool.end());
    clock.advance(299);
    await settle();
    assert.equal(ended.state, "pending");
    clock.advance(1);
    await settle();
    assert.equal(ended.state, "resolved");
    assert.equal(driver.open.size, 0);
    await assert.rejects(db.query("SELECT 1"), ConnectionError);
    assert.equal(forever.state, "pending"); // fn's own promise: nothing the pool can settle
  });
});

describe("misuse: bad arguments", () => {
  it("withHandler() with an fn that is not a function rejects with TypeError and leaks nothing", async () => {
    const { pool } = setup({ g: { connection_count: 1 } });
    await assert.rejects(
      pool.withHandler("g", null as unknown as () => void),
      TypeError,
    );
    await assertHealthy(pool, "g");
  });

  it(
    "query() with a text that is not a string rejects with TypeError naming it, and keeps the session",
    async () => {
      const { pool, driver } = setup({ g: { connection_count: 1 } });
      for (const text of [42, undefined, null, { text: "SELECT 1" }]) {
        await assert.rejects(
          pool.withHandler("g", (db) => db.query(text as unknown as string)),
          (err) => err instanceof TypeError && /text/.test((err as Error).message),
        );
      }
      assert.equal(driver.queries.length, 0, "a bad text reached the driver");
      await assertHealthy(pool, "g");
      assert.equal(driver.sessions.length, 1);
    },
  );

  it(
    "lease() with a signal that is not an AbortSignal rejects with TypeError and leaks nothing",
    {},
    async () => {
      const { pool } = setup({ g: { connection_count: 1 } });
      const held = await pool.lease("g"); // so that the bad call has to wait
      const bad = track(pool.lease("g", { signal: {} as AbortSignal }));
      await settle();
      assert.ok(bad.error instanceof TypeError, String(bad.error));
      assert.equal(pool.stats().groups.g.waiting, 0, "a ghost waiter stayed in the queue");
      await held.release(); // must not throw
      await assertHealthy(pool, "g");
    },
  );

  for (const timeoutMs of [NaN, -1, "100" as unknown as number]) {
    it(
      `lease() with timeoutMs ${
        String(timeoutMs)
      } (${typeof timeoutMs}) rejects with a RangeError or TypeError naming it`,
      {},
      async () => {
        const { pool, clock } = setup({ g: { connection_count: 1 } });
        const held = await pool.lease("g");
        const bad = track(pool.lease("g", { timeoutMs }));
        await settle();
        clock.advance(0);
        await settle();
        assert.ok(
          bad.error instanceof RangeError || bad.error instanceof TypeError,
          `got ${bad.state}: ${String(bad.error)}`,
        );
        assert.match((bad.error as Error).message, /timeoutMs/);
        await held.release();
        await assertHealthy(pool, "g");
      },
    );
  }

  it(
    "lease() with timeoutMs Infinity or above 2^31-1 waits instead of timing out at once",
    {},
    async () => {
      // The system clock on purpose: the fault is in how runtime timers read the number.
      const { pool } = setup({ g: { connection_count: 1 } }, {}, { realClock: true });
      const held = await pool.lease("g");
      const calls = [Infinity, 2 ** 31, 1e12].map((timeoutMs) =>
        track(pool.lease("g", { timeoutMs }))
      );
      await new Promise((r) => setTimeout(r, 30));
      for (const c of calls) assert.equal(c.state, "pending", String(c.error));
      await held.release();
      for (const c of calls) {
        // Served in turn, each released by the test.
        await settle();
        assert.equal(c.state, "resolved", String(c.error));
        await (c.value as Handler).release();
      }
      await assertHealthy(pool, "g");
    },
  );
});

describe("misuse: pipelined groups", () => {
  for (
    const sql of [
      "/* audit */ BEGIN",
      "-- open one\nBEGIN",
      "SELECT 1; BEGIN",
      "SELECT 1; START TRANSACTION",
    ]
  ) {
    it(
      `a pipelined group refuses ${
        JSON.stringify(sql)
      }, which would open a transaction on a shared session`,
      {},
      async () => {
        const { pool, driver } = setup({ p: { connection_count: 1, pipeline: true } });
        await assert.rejects(
          pool.withHandler("p", (db) => db.query(sql)),
          (err) => err instanceof PoolError && /transaction/.test((err as Error).message),
        );
        assert.ok(!driver.queries.some((q) => q.text === sql), "the statement was sent");
        await assertHealthy(pool, "p");
      },
    );
  }

  it(
    "a pipelined group never counts more sessions than connection_count when its sessions die",
    {},
    async () => {
      const { pool, driver } = setup({ p: { connection_count: 1, pipeline: true } });
      await pool.withHandler("p", (db) => db.query("SELECT 1"));
      for (let i = 0; i < 3; i++) {
        driver.sessions.at(-1)!.kill(); // the backend dies while idle
        await pool.withHandler("p", (db) => db.query("SELECT 1"));
      }
      const stats = pool.stats();
      assert.ok(stats.groups.p.total <= 1, `total ${stats.groups.p.total}`);
      assert.equal(stats.endpoints[0].connections, driver.open.size);
      await assertHealthy(pool, "p");
    },
  );
});
