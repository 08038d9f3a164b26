import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CommitUnknownError,
  ConfigError,
  ConnectionError,
  createPool,
  type Handler,
  type Pool,
  QueryError,
} from "../../mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";

let made: { pool: Pool; driver: FakeDriver; clock: FakeClock }[] = [];

function setup(retry: number, autocommit = false) {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = createPool({
    db: { host: "a", name: "app", user: "u" },
    groups: { tx: { connection_count: 2, autocommit, retry } },
    driver,
  }, { clock });
  made.push({ pool, driver, clock });
  return { pool, driver };
}

afterEach(async () => {
  for (const { pool, driver, clock } of made) {
    const ending = pool.end();
    clock.advance(60_000);
    await ending;
    assert.equal(driver.open.size, 0, "sessions left open");
  }
  made = [];
});

/** The first `times` statements matching `match` fail with `fail(session)`. */
function failFirst(
  driver: FakeDriver,
  match: RegExp,
  times: number,
  fail: (s: FakeSession) => unknown,
): void {
  let left = times;
  driver.respond = (text, params, s) => {
    if (left > 0 && match.test(text)) {
      left--;
      throw fail(s);
    }
    return defaultResponder(text, params, s);
  };
}

const serialization = (s: FakeSession) => {
  s.tx = "failed";
  return new QueryError("could not serialize access", { code: "40001" });
};
const lost = (s: FakeSession) => {
  s.kill();
  return Object.assign(new Error("terminating connection"), { code: "57P01" });
};

describe("groups.<g>.retry", () => {
  it("runs fn again after a serialization failure (40001) in one of its statements", async () => {
    const { pool, driver } = setup(2);
    failFirst(driver, /^UPDATE/, 1, serialization);
    let runs = 0;
    const v = await pool.withHandler("tx", async (db) => {
      runs++;
      await db.query("UPDATE t SET n = n + 1");
      return runs;
    });
    assert.equal(v, 2);
  });

  it("runs fn again after a deadlock (40P01) at COMMIT", async () => {
    const { pool, driver } = setup(1);
    failFirst(driver, /^COMMIT/, 1, (s) => {
      s.tx = "idle";
      return new QueryError("deadlock detected", { code: "40P01" });
    });
    let runs = 0;
    await pool.withHandler("tx", async (db) => {
      runs++;
      await db.query("UPDATE t SET n = 1");
    });
    assert.equal(runs, 2);
  });

  it("gives up after retry more runs and throws the last error", async () => {
    const { pool, driver } = setup(2);
    failFirst(driver, /^UPDATE/, 10, serialization);
    let runs = 0;
    await assert.rejects(
      pool.withHandler("tx", async (db) => {
        runs++;
        await db.query("UPDATE t SET n = 1");
      }),
      (err) => err instanceof QueryError && err.code === "40001",
    );
    assert.equal(runs, 3);
  });

  it("runs fn again when the session was lost before any of its queries got an answer", async () => {
    const { pool, driver } = setup(1);
    failFirst(driver, /^SELECT/, 1, lost);
    let runs = 0;
    const rows = await pool.withHandler("tx", async (db) => {
      runs++;
      return (await db.query("SELECT 1")).rows;
    });
    assert.equal(runs, 2);
    assert.equal(rows.length, 1);
  });

  it("does not run fn again when the session was lost after a query got an answer", async () => {
    const { pool, driver } = setup(3);
    let seen = 0;
    driver.respond = (text, params, s) => {
      if (/^SELECT/.test(text) && ++seen === 2) throw lost(s);
      return defaultResponder(text, params, s);
    };
    let runs = 0;
    await assert.rejects(
      pool.withHandler("tx", async (db) => {
        runs++;
        await db.query("SELECT 1");
        await db.query("SELECT 2");
      }),
      ConnectionError,
    );
    assert.equal(runs, 1);
  });

  it("never runs fn again after a COMMIT of unknown outcome", async () => {
    const { pool, driver } = setup(3);
    failFirst(driver, /^COMMIT/, 1, lost);
    let runs = 0;
    await assert.rejects(
      pool.withHandler("tx", async (db) => {
        runs++;
        await db.query("INSERT INTO t VALUES (1)");
      }),
      CommitUnknownError,
    );
    assert.equal(runs, 1);
  });

  it("never runs fn again once it committed: db.commit(), COMMIT, END, PREPARE TRANSACTION", async () => {
    for (
      const commit of [
        (db: Handler) => db.commit(),
        (db: Handler) => db.query("/* c */ commit"),
        (db: Handler) => db.query("END"),
        (db: Handler) => db.query("COMMIT AND CHAIN"),
        (db: Handler) => db.query("PREPARE TRANSACTION 'p1'"),
      ]
    ) {
      const { pool, driver } = setup(3);
      failFirst(driver, /^UPDATE/, 1, serialization);
      let runs = 0;
      await assert.rejects(
        pool.withHandler("tx", async (db) => {
          runs++;
          await db.query("INSERT INTO t VALUES (1)");
          await commit(db);
          await db.query("UPDATE t SET n = 1");
        }),
        (err) => err instanceof QueryError && err.code === "40001",
      );
      assert.equal(runs, 1, String(commit));
    }
  });

  it("never runs fn again when a text holding COMMIT was lost before its answer", async () => {
    const { pool, driver } = setup(3);
    failFirst(driver, /COMMIT/, 1, lost);
    let runs = 0;
    await assert.rejects(
      pool.withHandler("tx", async (db) => {
        runs++;
        await db.query("INSERT INTO t VALUES (1); COMMIT");
      }),
      ConnectionError,
    );
    assert.equal(runs, 1);
  });

  it("still runs fn again after a commit the server refused, or a rollback", async () => {
    const { pool, driver } = setup(2);
    failFirst(driver, /^COMMIT/, 1, (s) => {
      s.tx = "idle";
      return new QueryError("could not serialize access", { code: "40001" });
    });
    let runs = 0;
    await pool.withHandler("tx", async (db) => {
      runs++;
      await db.query("INSERT INTO t VALUES (1)");
      if (runs === 1) await db.commit();
    });
    assert.equal(runs, 2, "db.commit() refused with 40001: nothing was committed");
    const second = setup(2);
    failFirst(second.driver, /^UPDATE/, 1, serialization);
    runs = 0;
    await second.pool.withHandler("tx", async (db) => {
      runs++;
      await db.query("INSERT INTO t VALUES (1)");
      await db.query("ROLLBACK");
      await db.query("UPDATE t SET n = 1");
    });
    assert.equal(runs, 2, "a ROLLBACK commits nothing");
  });

  it("does not retry other errors, nor anything with retry 0", async () => {
    const { pool, driver } = setup(3);
    failFirst(driver, /^INSERT/, 1, () => new QueryError("duplicate key", { code: "23505" }));
    let runs = 0;
    await assert.rejects(
      pool.withHandler("tx", async (db) => {
        runs++;
        await db.query("INSERT INTO t VALUES (1)");
      }),
      (err) => err instanceof QueryError && err.code === "23505",
    );
    assert.equal(runs, 1);
    const zero = setup(0);
    failFirst(zero.driver, /^UPDATE/, 1, serialization);
    runs = 0;
    await assert.rejects(zero.pool.withHandler("tx", async (db) => {
      runs++;
      await db.query("UPDATE t SET n = 1");
    }));
    assert.equal(runs, 1);
  });

  it("is refused in an autocommit group and outside 0..100", () => {
    assert.throws(() => setup(1, true), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.path, "groups.tx.retry");
      assert.match(err.message, /autocommit false/);
      return true;
    });
    assert.throws(
      () => setup(101),
      (err) => err instanceof ConfigError && err.path === "groups.tx.retry",
    );
    assert.throws(() => setup(-1), ConfigError);
  });
});
