/**
 * `listenlost` and `listenrestored` on the fake driver and clock: one of
 * each per loss however many reconnects fail in between, the reason (lost,
 * keep-alive unanswered, endpoint removed), `missedMs` counted from the last
 * time the old session was known to listen, no event for a session that
 * never listened, and nothing left armed when the last channel goes or the
 * pool ends during the outage, also from inside a listener.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Driver, type Pool, type PoolEventDetail } from "../../mod.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

type Seen =
  | { type: "listenlost"; at: number; detail: PoolEventDetail<"listenlost"> }
  | { type: "listenrestored"; at: number; detail: PoolEventDetail<"listenrestored"> };

let made: { pool: Pool; fake: FakeDriver; clock: FakeClock }[] = [];

function pool(extra: Record<string, unknown> = {}) {
  const fake = new FakeDriver();
  const clock = new FakeClock();
  const driver: Driver = { name: "fake", notifications: true, connect: (p) => fake.connect(p) };
  const p = createPool({
    db: [{ host: "a", port: 5432, user: "u", pass: "s3cret" }, {
      host: "b",
      port: 5432,
      user: "u",
    }],
    groups: { g: { connection_count: 1 } },
    driver,
    reconnectBaseMs: 100,
    reconnectMaxMs: 400,
    ...extra,
  }, { clock });
  made.push({ pool: p, fake, clock });
  const seen: Seen[] = [];
  p.addEventListener("listenlost", (e) => {
    seen.push({ type: "listenlost", at: clock.now(), detail: e.detail });
  });
  p.addEventListener("listenrestored", (e) => {
    seen.push({ type: "listenrestored", at: clock.now(), detail: e.detail });
  });
  return { pool: p, fake, clock, seen };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
};

/** Advances in 250 ms steps (the loss checks), letting promises run between steps. */
async function walk(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    clock.advance(250);
    await settle();
  }
}

const only = (fake: FakeDriver) => [...fake.open][0] as FakeSession;
const types = (seen: Seen[]) => seen.map((s) => s.type);

afterEach(async () => {
  for (const { pool: p, fake, clock } of made) {
    const ending = p.end();
    clock.advance(60_000);
    await ending;
    assert.equal(fake.open.size, 0, "sessions left open");
    assert.equal(clock.pendingTimers, 0, "timers left armed");
  }
  made = [];
});

describe("listenlost / listenrestored (fake driver)", () => {
  it("one of each per loss, however many reconnects fail in between; missedMs from the last answer", async () => {
    const { pool: p, fake, clock, seen } = pool({ listenPingIntervalMs: 1000 });
    await p.listen("x", () => {});
    await p.listen("y", () => {});
    await walk(clock, 1000); // the keep-alive ping at 1000 ms answers
    const answeredFrom = clock.now();
    await walk(clock, 500);
    fake.down.add("a:5432");
    fake.down.add("b:5432");
    only(fake).kill();
    await walk(clock, 2000); // reconnects fail
    assert.deepEqual(types(seen), ["listenlost"]);
    assert.deepEqual(seen[0].detail, {
      endpoint: "a:5432",
      channels: ["x", "y"],
      reason: "broken",
      error: undefined,
    });
    fake.down.clear();
    await walk(clock, 1000);
    assert.deepEqual(types(seen), ["listenlost", "listenrestored"]);
    const restored = seen[1];
    assert.equal(restored.type, "listenrestored");
    assert.deepEqual(restored.detail, {
      endpoint: restored.detail.endpoint,
      channels: ["x", "y"],
      missedMs: restored.at - answeredFrom,
    });
    assert.ok(/^[ab]:5432$/.test(restored.detail.endpoint));
    const s = only(fake);
    assert.ok(s.log.includes('LISTEN "x"') && s.log.includes('LISTEN "y"'));
    await walk(clock, 2000);
    assert.equal(seen.length, 2);
  });

  it("an unanswered keep-alive ping: reason ping-failed, the error names listenPingTimeoutMs", async () => {
    const { pool: p, fake, clock, seen } = pool({
      listenPingIntervalMs: 1000,
      listenPingTimeoutMs: 500,
    });
    await p.listen("x", () => {});
    const first = only(fake);
    fake.respond = (text, params, s) =>
      text === "SELECT 1" && s === first
        ? new Promise(() => {})
        : defaultResponder(text, params, s);
    await walk(clock, 2000);
    assert.deepEqual(types(seen), ["listenlost", "listenrestored"]);
    const lost = seen[0].detail as PoolEventDetail<"listenlost">;
    assert.equal(lost.reason, "ping-failed");
    assert.match(String(lost.error), /listenPingTimeoutMs \(500 ms\)/);
    assert.ok(!String(lost.error).includes("s3cret"));
  });

  it("setEndpoints() removing the session's endpoint: reason reconfigured, restored on another", async () => {
    const { pool: p, fake, clock, seen } = pool();
    await p.listen("x", () => {});
    const on = only(fake).endpoint;
    const other = on === "a:5432" ? "b" : "a";
    p.setEndpoints([{ host: other, port: 5432, user: "u" }]);
    await walk(clock, 500);
    assert.deepEqual(seen.map((s) => [s.type, s.detail.endpoint, s.detail.channels]), [
      ["listenlost", on, ["x"]],
      ["listenrestored", `${other}:5432`, ["x"]],
    ]);
    assert.equal((seen[0].detail as PoolEventDetail<"listenlost">).reason, "reconfigured");
  });

  it("a session listen() finds closed before the watch looked is a loss too, and its count goes", async () => {
    const { pool: p, fake, seen } = pool({ db: { host: "a", port: 5432, user: "u" } });
    await p.listen("x", () => {});
    only(fake).kill();
    await p.listen("y", () => {}); // before the next loss check
    await settle();
    assert.deepEqual(seen.map((s) => [s.type, s.detail.channels]), [
      ["listenlost", ["x"]],
      ["listenrestored", ["x", "y"]],
    ]);
    assert.equal(p.stats().endpoints[0].connections, 1, "the lost session is still counted");
  });

  it("no event for a session lost while it opened, nor for the last unlisten or end()", async () => {
    const { pool: p, fake, clock, seen } = pool();
    fake.respond = (text, params, s) => {
      if (text.startsWith("LISTEN")) s.kill();
      return defaultResponder(text, params, s);
    };
    await assert.rejects(p.listen("x", () => {}));
    fake.respond = defaultResponder;
    const stop = await p.listen("y", () => {});
    await stop();
    await p.listen("z", () => {});
    await p.end();
    await walk(clock, 1000);
    assert.deepEqual(seen, []);
  });

  for (const how of ["unlisten", "end"] as const) {
    it(`${how} from the listenlost listener, with a reconnect hanging: no restored event, nothing left`, async () => {
      const { pool: p, fake, clock, seen } = pool({ db: { host: "a", port: 5432, user: "u" } });
      const unlisten = await p.listen("x", () => {});
      let stopped: Promise<void> | undefined;
      p.addEventListener("listenlost", () => void (stopped = how === "end" ? p.end() : unlisten()));
      fake.hanging.set("a:5432", []);
      only(fake).kill();
      await walk(clock, 250);
      assert.deepEqual(types(seen), ["listenlost"]);
      if (how === "unlisten") await stopped;
      const hung = fake.hanging.get("a:5432")!;
      fake.hanging.delete("a:5432");
      for (const release of hung) release(); // the connect in flight comes through, too late
      await walk(clock, 2000);
      await stopped;
      assert.deepEqual(types(seen), ["listenlost"]);
      assert.equal(fake.open.size, 0, "a session left open");
      assert.equal(clock.pendingTimers, 0, "a timer left armed");
    });
  }
});
