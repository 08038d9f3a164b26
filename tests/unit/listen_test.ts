/**
 * `pool.listen` on the fake driver and clock: the LISTEN text, delivery to
 * every callback, the session closed with the last unlisten, reconnects with
 * back-off after a loss, and no timer or session left after `end()`.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPool,
  type Driver,
  ListenUnsupportedError,
  OfflineError,
  type Pool,
  PoolClosedError,
} from "../../mod.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

let made: { pool: Pool; fake: FakeDriver; clock: FakeClock }[] = [];

/** A pool over the fake driver, declared able to deliver notifications. */
function pool(notifications = true) {
  const fake = new FakeDriver();
  const clock = new FakeClock();
  const driver: Driver = { name: "fake", notifications, connect: (p) => fake.connect(p) };
  const p = createPool({
    db: { host: "a", port: 5432, user: "u" },
    groups: { g: { connection_count: 1 } },
    driver,
    reconnectBaseMs: 100,
    reconnectMaxMs: 400,
  }, { clock });
  made.push({ pool: p, fake, clock });
  return { pool: p, fake, clock };
}

/** The server side: a notification to every fake session that LISTENs to `channel`. */
function notify(fake: FakeDriver, channel: string, payload: string, pid = 4242): void {
  const quoted = `LISTEN "${channel.replaceAll('"', '""')}"`;
  for (const s of fake.open) {
    if (s.log.includes(quoted)) s.params.onNotification?.({ channel, payload, pid });
  }
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
};

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

describe("pool.listen() (fake driver)", () => {
  it("LISTENs with the channel quoted, delivers to every callback with channel and pid", async () => {
    const { pool: p, fake } = pool();
    const got: string[] = [];
    const channel = 'We"ird; DROP';
    await p.listen(
      channel,
      (payload, { channel: c, pid }) => void got.push(`1:${payload}:${c}:${pid}`),
    );
    await p.listen(channel, (payload) => void got.push(`2:${payload}`));
    const session = [...fake.open][0] as FakeSession;
    assert.ok(session.log.includes('LISTEN "We""ird; DROP"'), session.log.join(" | "));
    notify(fake, channel, "hi");
    assert.deepEqual(got, [`1:hi:${channel}:4242`, "2:hi"]);
    assert.equal(p.stats().groups.g.total, 0, "the listen session is no group's");
  });

  it("a throwing callback does not stop the others", async () => {
    const { pool: p, fake } = pool();
    const got: string[] = [];
    await p.listen("c", () => {
      throw new Error("mine");
    });
    await p.listen("c", () => Promise.reject(new Error("mine too")));
    await p.listen("c", (payload) => void got.push(payload));
    notify(fake, "c", "x");
    await settle();
    assert.deepEqual(got, ["x"]);
  });

  it("UNLISTENs a channel with its last callback and closes the session with the last channel", async () => {
    const { pool: p, fake } = pool();
    const stopA = await p.listen("a", () => {});
    const stopB = await p.listen("b", () => {});
    const session = [...fake.open][0] as FakeSession;
    await stopA();
    assert.ok(session.log.includes('UNLISTEN "a"'));
    assert.equal(fake.open.size, 1);
    await stopB();
    assert.equal(fake.open.size, 0);
    assert.equal(p.stats().endpoints[0].connections, 0);
  });

  it("reconnects with back-off after the session is lost, and LISTENs every channel again", async () => {
    const { pool: p, fake, clock } = pool();
    const got: string[] = [];
    await p.listen("a", (x) => void got.push(`a:${x}`));
    await p.listen("b", (x) => void got.push(`b:${x}`));
    fake.down.add("a:5432");
    ([...fake.open][0] as FakeSession).kill();
    clock.advance(250); // the loss is seen
    await settle();
    clock.advance(0); // first try at once: refused
    await settle();
    assert.equal(fake.open.size, 0);
    fake.down.delete("a:5432");
    for (let i = 0; i < 20 && fake.open.size === 0; i++) {
      clock.advance(100);
      await settle();
    }
    assert.equal(fake.open.size, 1, "the listener came back");
    const session = [...fake.open][0] as FakeSession;
    assert.ok(session.log.includes('LISTEN "a"') && session.log.includes('LISTEN "b"'));
    notify(fake, "a", "1");
    notify(fake, "b", "2");
    assert.deepEqual(got, ["a:1", "b:2"]);
  });

  it("closes a session whose ping goes unanswered (a silent network) and opens another", async () => {
    const { pool: p, fake, clock } = pool();
    await p.listen("a", () => {});
    const first = [...fake.open][0] as FakeSession;
    fake.respond = (text, params, s) =>
      text === "SELECT 1" && s === first
        ? new Promise(() => {})
        : defaultResponder(text, params, s);
    for (let i = 0; i < 100 && !first.closed; i++) {
      clock.advance(250);
      await settle();
    }
    assert.ok(first.closed, "the silent session was closed");
    for (let i = 0; i < 20 && fake.open.size === 0; i++) {
      clock.advance(250);
      await settle();
    }
    const next = [...fake.open][0] as FakeSession;
    assert.ok(next !== undefined && next !== first && next.log.includes('LISTEN "a"'));
  });

  it("rejects when no server can be reached, leaving nothing behind", async () => {
    const { pool: p, fake } = pool();
    fake.down.add("a:5432");
    await assert.rejects(p.listen("a", () => {}), OfflineError);
    assert.equal(fake.open.size, 0);
  });

  it("rejects with PoolClosedError after end(), opening nothing", async () => {
    const { pool: p, fake } = pool();
    await p.end();
    await assert.rejects(p.listen("a", () => {}), PoolClosedError);
    assert.equal(fake.sessions.length, 0);
  });

  it("refuses a driver without notifications with ListenUnsupportedError", async () => {
    const { pool: p, fake } = pool(false);
    await assert.rejects(p.listen("a", () => {}), ListenUnsupportedError);
    assert.equal(fake.sessions.length, 0);
  });
});
