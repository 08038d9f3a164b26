/**
 * An abort at every `await` of the lease path: before `fn` starts, `fn` never
 * runs; while it runs, the session is dropped; after it returned, the commit
 * and the release go on. Nothing the pool starts is ever left unhandled.
 */
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { AcquireTimeoutError, createPool, type Handler, type Pool } from "../../mod.ts";
import { defaultResponder, FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let driver: FakeDriver;
let clock: FakeClock;
let pool: Pool;
let escaped: unknown[];
let stopWatching: () => void;

/** Records unhandled rejections (and keeps them from ending the run) on Deno, Bun and Node. */
function watchUnhandled(): () => void {
  if ("Deno" in globalThis) {
    const onRejection = (e: PromiseRejectionEvent) => {
      e.preventDefault();
      escaped.push(e.reason);
    };
    globalThis.addEventListener("unhandledrejection", onRejection);
    return () => globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  const proc = (globalThis as unknown as {
    process: {
      on(e: string, f: (err: unknown) => void): void;
      off(e: string, f: (err: unknown) => void): void;
    };
  }).process;
  const record = (err: unknown) => escaped.push(err);
  proc.on("unhandledRejection", record);
  return () => proc.off("unhandledRejection", record);
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Statements whose answer the test holds back until it calls `open()`. */
function gate(text: string): { reached: () => boolean; open: () => void } {
  let reached = false;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const respond = driver.respond;
  driver.respond = async (t, params, s) => {
    if (t !== text) return respond(t, params, s);
    reached = true;
    await opened;
    return defaultResponder(t, params, s);
  };
  return { reached: () => reached, open };
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !what(); i++) await tick();
  assert.ok(what(), "the stage was never reached");
}

beforeEach(() => {
  driver = new FakeDriver();
  clock = new FakeClock();
  pool = createPool({
    db: { host: "a" },
    groups: { tx: { connection_count: 1, autocommit: false } },
    driver,
    pingAfterIdleMs: 1000,
  }, { clock });
  escaped = [];
  stopWatching = watchUnhandled();
});

afterEach(async () => {
  for (let i = 0; i < 5; i++) await tick();
  const ending = pool.end();
  clock.advance(60_000);
  await ending;
  for (let i = 0; i < 5; i++) await tick();
  stopWatching();
  assert.deepEqual(escaped, [], "a promise of the pool was left unhandled");
  assert.equal(driver.open.size, 0, "sessions left open");
});

/** What fn does in every case: one INSERT, then it returns. */
function work(log: string[]): (db: Handler) => Promise<string> {
  return async (db) => {
    log.push("fn");
    await db.query("INSERT 1");
    return "done";
  };
}

describe("withHandler() aborted before fn starts", () => {
  const reason = new Error("caller gave up");

  it("while it waits in the queue: rejects, fn never runs", async () => {
    const held = await pool.lease("tx");
    const ac = new AbortController();
    const log: string[] = [];
    const call = pool.withHandler("tx", work(log), { signal: ac.signal });
    await until(() => pool.stats().groups.tx.waiting === 1);
    ac.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    await held.release();
    assert.deepEqual(log, []);
  });

  it("while its connection opens: rejects, fn never runs, the session joins the idle set", async () => {
    driver.hanging.set("a:5432", []);
    const ac = new AbortController();
    const log: string[] = [];
    const call = pool.withHandler("tx", work(log), { signal: ac.signal });
    await until(() => driver.connectAttempts.length === 1);
    ac.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    for (const go of driver.hanging.get("a:5432")!) go();
    driver.hanging.clear();
    await until(() => pool.stats().groups.tx.idle === 1);
    assert.deepEqual(log, []);
  });

  it("while the pool pings an idle session: rejects, fn never runs, the session is kept", async () => {
    await pool.withHandler("tx", () => 1);
    clock.advance(2000);
    const ping = gate("SELECT 1");
    const ac = new AbortController();
    const log: string[] = [];
    const call = pool.withHandler("tx", work(log), { signal: ac.signal });
    await until(ping.reached);
    ac.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    assert.equal(pool.stats().groups.tx.leased, 1, "not handed out while its ping is in flight");
    ping.open();
    await until(() => pool.stats().groups.tx.idle === 1);
    assert.deepEqual(log, []);
    assert.ok(
      !driver.queries.some((q) => q.text === "INSERT 1"),
      "nothing of fn reached the server",
    );
  });
});

describe("withHandler() aborted once fn runs", () => {
  const reason = new Error("caller gave up");

  it("while BEGIN is in flight: rejects, the session is dropped, nothing is left unhandled", async () => {
    const begin = gate("BEGIN");
    const ac = new AbortController();
    const call = pool.withHandler("tx", work([]), { signal: ac.signal });
    await until(begin.reached);
    ac.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    begin.open();
    assert.equal(pool.stats().groups.tx.total, 0);
  });

  it("while fn awaits its own work: rejects at once and drops the session", async () => {
    const ac = new AbortController();
    let finish!: () => void;
    const call = pool.withHandler("tx", async (db) => {
      await db.query("INSERT 1");
      await new Promise<void>((resolve) => (finish = resolve));
      await db.query("INSERT 2"); // rejects: the handler was released
    }, { signal: ac.signal });
    await until(() => finish !== undefined);
    ac.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    finish();
    assert.equal(pool.stats().groups.tx.total, 0);
  });

  it("while COMMIT is in flight: the abort changes nothing, the result is committed and returned", async () => {
    const commit = gate("COMMIT");
    const ac = new AbortController();
    const call = pool.withHandler("tx", work([]), { signal: ac.signal });
    await until(commit.reached);
    ac.abort(reason);
    commit.open();
    assert.equal(await call, "done");
    assert.equal(pool.stats().groups.tx.idle, 1);
  });

  it("while the release resets the session: the abort changes nothing", async () => {
    const reset = gate("RESET ALL");
    const ac = new AbortController();
    const call = pool.withHandler("tx", async (db) => {
      await db.query("SET search_path = x");
      return "done";
    }, { signal: ac.signal });
    await until(reset.reached);
    ac.abort(reason);
    reset.open();
    assert.equal(await call, "done");
    assert.equal(pool.stats().groups.tx.idle, 1);
  });
});

describe("the ping before use", () => {
  it("breaks a session whose ping gets no answer within pingTimeoutMs and moves on", async () => {
    await pool.withHandler("tx", () => 1);
    clock.advance(2000);
    const ping = gate("SELECT 1");
    const call = pool.withHandler("tx", (db) => db.query("SELECT 2").then((r) => r.rows[0].pid));
    await until(ping.reached);
    clock.advance(5000); // the default pingTimeoutMs
    const pid = await call;
    assert.equal(pid, driver.sessions[1].pid, "served by a new session");
    assert.equal(driver.sessions[0].closed, true, "the silent one was closed");
    ping.open();
  });

  it("gives up at the caller's timeoutMs when it is shorter than pingTimeoutMs", async () => {
    await pool.withHandler("tx", () => 1);
    clock.advance(2000);
    const ping = gate("SELECT 1");
    let ran = false;
    const call = pool.withHandler("tx", () => (ran = true), { timeoutMs: 300 });
    await until(ping.reached);
    clock.advance(300);
    await assert.rejects(
      call,
      (err) => err instanceof AcquireTimeoutError && /300 ms/.test(err.message),
    );
    assert.equal(ran, false);
    assert.equal(pool.stats().groups.tx.total, 0, "the silent session was dropped");
    ping.open();
  });
});
