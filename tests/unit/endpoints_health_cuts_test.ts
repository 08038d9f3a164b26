/**
 * Cut handshakes (issue 9, item 6a): a handshake cut after the server
 * accepted the socket is evidence of a live server, and backs the endpoint
 * off only when cuts persist for a window (the connect timeout, at least a
 * second) with no success in between; a burst of concurrent cuts is one
 * attempt window. On the fake clock.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Health } from "../../src/endpoints/health.ts";
import { FakeClock } from "../support/fake_clock.ts";

const backoff = { baseMs: 100, maxMs: 1000 };

/** `n` concurrent attempts that all begin now and are all cut now. */
function cutBurst(h: Health, now: number, n: number): boolean[] {
  const tickets = Array.from({ length: n }, () => h.begin(now));
  return tickets.map((t) => h.failed(t, "handshake", now, backoff, "read ECONNRESET"));
}

describe("Health: cut handshakes", () => {
  it("cuts interleaved with successes never back the endpoint off", () => {
    const clock = new FakeClock();
    const h = new Health(2_000);
    // Ten seconds of a server killing sessions while they authenticate: bursts of
    // cuts every 50 ms, and one handshake that gets through every 900 ms.
    for (let t = 0; t < 10_000; t += 50) {
      clock.advance(50);
      assert.deepEqual(cutBurst(h, clock.now(), 5), [false, false, false, false, false]);
      if (t % 900 === 0) h.succeeded(h.begin(clock.now()));
      assert.equal(h.up, true, `backed off at ${clock.now()} ms`);
    }
    assert.equal(h.failures, 0);
  });

  it("cuts alone for the window (the connect timeout) back it off, and keep backing it off", () => {
    const clock = new FakeClock();
    const h = new Health(2_000);
    const start = clock.now();
    while (clock.now() - start < 2_000) {
      assert.equal(cutBurst(h, clock.now(), 1)[0], false);
      assert.equal(h.up, true);
      clock.advance(100);
    }
    assert.equal(cutBurst(h, clock.now(), 1)[0], true, "cuts for the whole window: an outage");
    assert.equal(h.failures, 1);
    assert.equal(h.lastError, "read ECONNRESET");
    // The probe after the back-off is cut too: the outage goes on, the back-off grows.
    clock.advance(h.retryAt - clock.now());
    assert.equal(h.available(clock.now()), true);
    assert.equal(cutBurst(h, clock.now(), 1)[0], true);
    assert.equal(h.failures, 2);
    // One success ends it.
    clock.advance(h.retryAt - clock.now());
    h.succeeded(h.begin(clock.now()));
    assert.equal(h.up, true);
    assert.equal(cutBurst(h, clock.now(), 1)[0], false, "a success resets the evidence");
  });

  it("the window is at least a second, whatever the connect timeout", () => {
    const clock = new FakeClock();
    const h = new Health(50);
    cutBurst(h, clock.now(), 1);
    clock.advance(900);
    assert.deepEqual(cutBurst(h, clock.now(), 1), [false]);
    clock.advance(100);
    assert.deepEqual(cutBurst(h, clock.now(), 1), [true]);
  });

  it("a success resets the evidence: the window starts again from the next cut", () => {
    const clock = new FakeClock();
    const h = new Health(1_000);
    for (let i = 0; i < 9; i++, clock.advance(100)) cutBurst(h, clock.now(), 3);
    h.succeeded(h.begin(clock.now()));
    for (let i = 0; i < 10; i++, clock.advance(100)) {
      assert.deepEqual(cutBurst(h, clock.now(), 3), [false, false, false]);
    }
    assert.equal(cutBurst(h, clock.now(), 1)[0], true);
  });

  it("a burst of 50 concurrent cuts is one attempt window, not fifty failures", () => {
    const clock = new FakeClock();
    const h = new Health(1_000);
    assert.ok(cutBurst(h, clock.now(), 50).every((b) => b === false), "a burst spans no time");
    assert.equal(h.up, true);
    clock.advance(1_000);
    const backedOff = cutBurst(h, clock.now(), 50);
    assert.ok(backedOff.every((b) => b === true));
    assert.equal(h.failures, 1, "fifty cuts of one window count once");
  });

  it("cuts far apart are no streak: a lone cut now and then never backs off", () => {
    const clock = new FakeClock();
    const h = new Health(1_000);
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(cutBurst(h, clock.now(), 2), [false, false]);
      clock.advance(1_500);
    }
    assert.equal(h.up, true);
  });

  it("after an outage, a cut is news that the server answers: it does not extend the back-off", () => {
    const clock = new FakeClock();
    const h = new Health(1_000);
    h.failed(h.begin(clock.now()), "outage", clock.now(), backoff, "ECONNREFUSED");
    assert.equal(h.failures, 1);
    clock.advance(h.retryAt - clock.now());
    assert.deepEqual(cutBurst(h, clock.now(), 1), [true], "still backed off, not further");
    assert.equal(h.failures, 1);
    assert.equal(h.available(clock.now()), true, "the next probe may go at once");
    h.succeeded(h.begin(clock.now()));
    assert.equal(h.up, true);
  });

  it("refused logins never back off, however long they go on", () => {
    const clock = new FakeClock();
    const h = new Health(1_000);
    for (let i = 0; i < 50; i++, clock.advance(100)) {
      assert.equal(h.failed(h.begin(clock.now()), "login", clock.now(), backoff), false);
    }
    assert.equal(h.up, true);
  });
});
