import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let pool: Pool;
let driver: FakeDriver;
let clock: FakeClock;

// The pool's own source: no frame of it may show in a reported stack.
const SRC = new URL("../../src/", import.meta.url);

function assertCallerStack(stack: string): void {
  assert.match(stack, /lease_watch_test\.ts/);
  for (const line of stack.split("\n")) {
    assert.ok(
      !line.includes(SRC.href) && !line.includes(decodeURIComponent(SRC.pathname)),
      `a frame of the pool is shown: ${line}`,
    );
  }
}

function setup(leakDetectionMs: number, real = false): { leaks: unknown[]; unreleased: unknown[] } {
  driver = new FakeDriver();
  clock = new FakeClock();
  pool = createPool(
    {
      db: { host: "h", query_timeout: 0 },
      groups: { g: { connection_count: 2 } },
      driver,
      leakDetectionMs,
      // Housekeeping off: the timers counted here are the watch's alone.
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
    },
    real ? {} : { clock },
  );
  const leaks: unknown[] = [];
  const unreleased: unknown[] = [];
  pool.addEventListener("leak", (e) => leaks.push((e as CustomEvent).detail));
  pool.addEventListener("unreleased", (e) => unreleased.push((e as CustomEvent).detail));
  return { leaks, unreleased };
}

afterEach(async () => {
  const ending = pool.end();
  clock.advance(60_000);
  await ending;
});

describe("leak detection", () => {
  it("reports a lease held past leakDetectionMs once, with the stack of the caller", async () => {
    const { leaks } = setup(100);
    const db = await pool.lease("g");
    clock.advance(60);
    assert.equal(leaks.length, 0);
    clock.advance(60);
    assert.equal(leaks.length, 1);
    const leak = leaks[0] as { group: string; heldMs: number; stack: string };
    assert.equal(leak.group, "g");
    assert.ok(leak.heldMs >= 100);
    assertCallerStack(leak.stack);
    clock.advance(1000);
    assert.equal(leaks.length, 1, "reported once");
    await db.release();
    assert.equal(clock.pendingTimers, 0, "the sweep stops when nothing is leased");
  });

  it("reports a withHandler whose fn holds the connection too long", async () => {
    const { leaks } = setup(50);
    let finish!: () => void;
    const call = pool.withHandler("g", () => new Promise<void>((r) => (finish = r)));
    await new Promise((r) => setTimeout(r, 0));
    clock.advance(100);
    assert.equal(leaks.length, 1);
    assertCallerStack((leaks[0] as { stack: string }).stack);
    finish();
    await call;
  });

  it("arms no timer and watches nothing when off and only withHandler is used", async () => {
    const { leaks } = setup(0);
    await pool.withHandler("g", () => clock.advance(10_000));
    assert.equal(leaks.length, 0);
    assert.equal(clock.pendingTimers, 0);
  });
});

describe("unreleased handlers", () => {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  const gc = g.Bun ? () => g.Bun!.gc(true) : g.gc;

  it("reclaims the connection of a handler collected without release, and reports it", {
    skip: gc
      ? false
      : "this runtime was started without a way to force GC (deno: --v8-flags=--expose-gc)",
  }, async () => {
    const { unreleased } = setup(0, true);
    await (async () => {
      const db = await pool.lease("g");
      await db.query("SELECT 1");
    })(); // the handler goes out of scope unreleased
    assert.equal(pool.stats().groups.g.leased, 1);
    for (let i = 0; i < 50 && unreleased.length === 0; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(unreleased.length, 1);
    assert.equal((unreleased[0] as { group: string }).group, "g");
    assert.equal(pool.stats().groups.g.leased, 0);
    assert.equal(driver.open.size, 0, "its session was closed");
    assert.equal(await pool.withHandler("g", () => "healthy"), "healthy");
  });
});
