/**
 * When the pool asks a driver to cancel (fake driver, fake clock): only for an
 * exclusive session it drops with a query in flight (the caller's signal,
 * end() past endTimeoutMs, a stray query at release), never for a query that
 * answered, a plain lease, or a pipelined session; a driver whose cancel
 * rejects or throws changes nothing and nothing escapes.
 */
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type DriverConnection, type Pool } from "../../mod.ts";
import { defaultResponder, FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { type EscapeWatch, watchEscapes } from "../support/escapes.ts";

const SLOW = "SELECT pg_sleep(30)";
let driver: FakeDriver;
let clock: FakeClock;
let pool: Pool;
let watch: EscapeWatch;
let cancels: number;
/** What each session's cancel() does. */
let cancelDoes: () => Promise<void>;

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !what(); i++) await tick();
  assert.ok(what(), "the stage was never reached");
}

function makePool(extra: Record<string, unknown> = {}): Pool {
  return createPool({
    db: { host: "a" },
    groups: { g: { connection_count: 1 }, shared: { connection_count: 1, pipeline: true } },
    driver,
    ...extra,
  }, { clock });
}

beforeEach(() => {
  driver = new FakeDriver();
  clock = new FakeClock();
  cancels = 0;
  cancelDoes = () => Promise.resolve();
  // The slow statement answers only when its session closes.
  driver.respond = (text, params, session) =>
    text === SLOW ? new Promise(() => {}) : defaultResponder(text, params, session);
  const connect = driver.connect.bind(driver);
  driver.connect = async (params) => {
    const conn: DriverConnection = await connect(params);
    Object.defineProperty(conn, "cancel", {
      value: () => {
        cancels++;
        return cancelDoes();
      },
    });
    return conn;
  };
  watch = watchEscapes();
  pool = makePool();
});

afterEach(async () => {
  const ending = pool.end();
  clock.advance(60_000);
  await ending;
  for (let i = 0; i < 5; i++) await tick();
  watch.stop();
  assert.deepEqual(watch.escaped, [], "nothing escapes");
  assert.equal(driver.open.size, 0, "sessions left open");
});

const slowSent = () => driver.queries.filter((q) => q.text === SLOW).length;

/** A withHandler whose fn runs the slow statement, aborted once it is in flight. */
async function abortMidQuery(): Promise<void> {
  const sent = slowSent();
  const ac = new AbortController();
  const call = pool.withHandler("g", (db) => db.query(SLOW), { signal: ac.signal });
  await until(() => slowSent() === sent + 1);
  ac.abort(new Error("caller gave up"));
  await assert.rejects(call, /caller gave up/);
}

describe("the pool cancels a query it gives up on", () => {
  it("the caller's signal mid-query: one cancel, the session closed", async () => {
    await abortMidQuery();
    assert.equal(cancels, 1);
    await until(() => driver.open.size === 0);
  });

  it("a driver whose cancel rejects, or throws: nothing escapes, the session is still closed", async () => {
    cancelDoes = () => Promise.reject(new Error("cancel failed"));
    await abortMidQuery();
    cancelDoes = () => {
      throw new Error("cancel threw");
    };
    await abortMidQuery();
    assert.equal(cancels, 2);
    await until(() => driver.open.size === 0);
  });

  it("end() past endTimeoutMs with a query in flight: one cancel", async () => {
    const db = await pool.lease("g");
    db.query(SLOW).catch(() => {});
    await until(() => driver.queries.some((q) => q.text === SLOW));
    const ending = pool.end();
    clock.advance(10_000);
    await ending;
    assert.equal(cancels, 1);
  });

  it("a stray query still running at release: one cancel", async () => {
    const db = await pool.lease("g");
    db.query(SLOW).catch(() => {});
    await until(() => driver.queries.some((q) => q.text === SLOW));
    const released = db.release();
    clock.advance(10_000);
    await released;
    assert.equal(cancels, 1);
  });
});

describe("the pool never cancels", () => {
  it("a plain lease and release, nor an abort after the query answered", async () => {
    await pool.withHandler("g", (db) => db.query("SELECT 1"));
    const ac = new AbortController();
    const call = pool.withHandler("g", async (db) => {
      await db.query("SELECT 1");
      ac.abort(new Error("late"));
      await new Promise(() => {});
    }, { signal: ac.signal });
    await assert.rejects(call, /late/);
    assert.equal(cancels, 0);
  });

  it("a pipelined session: an abort, and end() past endTimeoutMs", async () => {
    const ac = new AbortController();
    const call = pool.query(SLOW, [], { group: "shared", signal: ac.signal });
    const other = pool.query(SLOW, [], { group: "shared" });
    other.catch(() => {});
    await until(() => driver.queries.filter((q) => q.text === SLOW).length === 2);
    ac.abort(new Error("caller gave up"));
    await assert.rejects(call);
    const ending = pool.end();
    clock.advance(10_000);
    await ending;
    assert.equal(cancels, 0);
  });
});
