/**
 * The pool's events on the fake driver and clock: sessions opened and closed
 * (with why), endpoints down and up, leases that waited, and no event built
 * while nobody listens.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createPool,
  type EndpointDownDetail,
  type LeaseWaitDetail,
  type Pool,
  type PoolEventMap,
  type SessionCloseDetail,
  type SessionOpenDetail,
} from "../../mod.ts";
import { FakeDriver } from "../support/fake_driver.ts";
import { FakeClock } from "../support/fake_clock.ts";

const A = { host: "a", port: 5432, user: "u", pass: "hunter2-secret", query_timeout: 0 };
const B = { host: "b", port: 5433, user: "u", pass: "hunter2-secret", query_timeout: 0 };

let pools: { pool: Pool; driver: FakeDriver; clock: FakeClock }[] = [];

function setup(
  groups: Record<string, Record<string, unknown>>,
  extra: Record<string, unknown> = {},
  db: object[] = [A],
): { pool: Pool; driver: FakeDriver; clock: FakeClock } {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = createPool({ db, groups, driver, ...extra } as never, { clock });
  const made = { pool, driver, clock };
  pools.push(made);
  return made;
}

// Every detail of `type`, in order.
function record<K extends keyof PoolEventMap>(
  pool: Pool,
  type: K,
): PoolEventMap[K]["detail"][] {
  const seen: PoolEventMap[K]["detail"][] = [];
  pool.addEventListener(type, (e) => seen.push(e.detail));
  return seen;
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

afterEach(async () => {
  for (const { pool, driver, clock } of pools) {
    const ending = pool.end();
    clock.advance(60_000);
    await ending;
    assert.equal(driver.open.size, 0, "sessions left open");
  }
  pools = [];
});

describe("pool events: sessionopen and sessionclose", () => {
  it("sessionopen names the group, the endpoint id and the connect time; end() closes with pool-ended", async () => {
    const { pool, driver } = setup({ g: { connection_count: 2 } });
    const opened = record(pool, "sessionopen");
    const closed = record(pool, "sessionclose");
    driver.hanging.set("a:5432", []);
    const call = pool.withHandler("g", () => 1);
    await tick();
    pools[0].clock.advance(40);
    for (const release of driver.hanging.get("a:5432")!) release();
    driver.hanging.delete("a:5432");
    await call;
    assert.deepEqual(
      opened,
      [{ group: "g", endpoint: "a:5432", connectMs: 40 }] as SessionOpenDetail[],
    );
    await pool.end();
    assert.deepEqual(closed, [{ group: "g", endpoint: "a:5432", reason: "pool-ended" }]);
  });

  it("sessionclose says idle-timeout for a session idle too long, lifetime for one too old", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } }, {
      idleTimeoutMs: 10_000,
      maxLifetimeMs: 0,
    });
    const closed = record(pool, "sessionclose");
    await pool.withHandler("g", () => {});
    clock.advance(12_000);
    assert.deepEqual(closed.map((c) => c.reason), ["idle-timeout"]);

    const other = setup({ g: { connection_count: 1 } }, {
      idleTimeoutMs: 0,
      maxLifetimeMs: 20_000,
    });
    const retired = record(other.pool, "sessionclose");
    await other.pool.withHandler("g", () => {});
    other.clock.advance(25_000);
    assert.deepEqual(retired.map((c) => c.reason), ["lifetime"]);
  });

  it("sessionclose says lifetime for a leased session past its lifetime, at release", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } }, {
      idleTimeoutMs: 0,
      maxLifetimeMs: 20_000,
    });
    const closed = record(pool, "sessionclose");
    await pool.withHandler("g", () => {
      clock.advance(25_000);
      assert.deepEqual(closed, [], "a lease is never interrupted");
    });
    assert.deepEqual(closed.map((c) => c.reason), ["lifetime"]);
  });

  it("sessionclose says broken for a session lost while leased, ping-failed for one whose ping failed", async () => {
    const { pool, driver, clock } = setup({ g: { connection_count: 1 } });
    const closed = record(pool, "sessionclose");
    await pool.withHandler("g", (db) => db.query("KILL").catch(() => {}));
    assert.deepEqual(closed.map((c) => c.reason), ["broken"]);
    await pool.withHandler("g", () => {});
    clock.advance(5_000);
    driver.respond = (text, params, s) => {
      if (text === "SELECT 1") throw Object.assign(new Error("gone"), { code: "57P01" });
      return { rows: [{ value: params?.[0] ?? 1, pid: s.pid }], rowCount: 1, command: "SELECT" };
    };
    await pool.withHandler("g", () => {});
    assert.deepEqual(closed.map((c) => c.reason), ["broken", "ping-failed"]);
  });

  it("sessionclose says abandoned when the caller's signal aborts while fn runs", async () => {
    const { pool } = setup({ g: { connection_count: 1 } });
    const closed = record(pool, "sessionclose");
    const ac = new AbortController();
    const call = pool.withHandler("g", () => new Promise(() => {}), { signal: ac.signal });
    await tick();
    ac.abort(new Error("gave up"));
    await assert.rejects(call, /gave up/);
    assert.deepEqual(closed.map((c) => c.reason), ["abandoned"]);
  });

  it("a pipelined group reports its sessions opened and closed too", async () => {
    const { pool } = setup({ p: { connection_count: 1, pipeline: true } });
    const opened = record(pool, "sessionopen");
    const closed = record(pool, "sessionclose");
    await pool.withHandler("p", (db) => db.query("SELECT 2"));
    assert.deepEqual(opened.map((o) => [o.group, o.endpoint]), [["p", "a:5432"]]);
    await pool.end();
    assert.deepEqual(closed.map((c) => [c.group, c.reason]), [["p", "pool-ended"]]);
  });
});

describe("pool events: endpointdown and endpointup", () => {
  it("reports an outage once when it begins and once when it ends, with the redacted error", async () => {
    const { pool, driver, clock } = setup({ g: { connection_count: 3 } }, {
      reconnectBaseMs: 1_000,
      reconnectMaxMs: 1_000,
    }, [A, B]);
    const down = record(pool, "endpointdown");
    const up = record(pool, "endpointup");
    const connect = driver.connect.bind(driver);
    driver.connect = (params) => {
      if (params.host === "b" && driver.down.has("b:5433")) {
        // A message quoting the URL with its password: the event must not show it.
        const err = new Error(`connect ECONNREFUSED postgres://u:${params.password}@b:5433/app`);
        return Promise.reject(Object.assign(err, { code: "ECONNREFUSED" }));
      }
      return connect(params);
    };
    driver.down.add("b:5433");
    for (let i = 0; i < 3; i++) {
      await Promise.all([pool.withHandler("g", tick), pool.withHandler("g", tick)]);
    }
    assert.equal(down.length, 1, "once per outage");
    const d = down[0] as EndpointDownDetail;
    assert.equal(d.endpoint, "b:5433");
    assert.match(d.error!, /ECONNREFUSED/);
    assert.ok(!d.error!.includes("hunter2-secret"), `password in ${d.error}`);
    assert.deepEqual(up, []);
    driver.down.delete("b:5433");
    clock.advance(2_000);
    // Two sessions failed over to a: a third caller at once makes the group open one more, on b.
    for (let i = 0; i < 2; i++) {
      await Promise.all([1, 2, 3].map(() => pool.withHandler("g", tick)));
    }
    assert.deepEqual(up, [{ endpoint: "b:5433" }]);
    assert.equal(pool.stats().endpoints[1].connections, 1, "b serves again");
    assert.equal(down.length, 1);
  });
});

describe("pool events: leasewait", () => {
  it("reports how long a lease queued, and nothing for a lease served at once", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } });
    const waits = record(pool, "leasewait");
    await pool.open();
    const held = await pool.lease("g");
    assert.deepEqual(waits, [], "served at once by the session open() opened");
    const queued = pool.withHandler("g", () => {});
    await tick();
    clock.advance(250);
    await held.release();
    await queued;
    assert.deepEqual(waits, [{ group: "g", waitedMs: 250 }] as LeaseWaitDetail[]);
    await pool.withHandler("g", () => {});
    assert.equal(waits.length, 1, "served at once: no event");
  });

  it("a pipelined group reports the callers that waited for its first session", async () => {
    const { pool, driver, clock } = setup({ p: { connection_count: 1, pipeline: true } });
    const waits = record(pool, "leasewait");
    driver.hanging.set("a:5432", []);
    const call = pool.withHandler("p", (db) => db.query("SELECT 2"));
    await tick();
    clock.advance(30);
    for (const release of driver.hanging.get("a:5432")!) release();
    driver.hanging.delete("a:5432");
    await call;
    assert.deepEqual(waits, [{ group: "p", waitedMs: 30 }]);
  });
});

describe("pool events: cost", () => {
  it("dispatches nothing while nobody listens, and only the events listened to", async () => {
    const { pool, clock } = setup({ g: { connection_count: 1 } }, { idleTimeoutMs: 10_000 });
    const dispatched: string[] = [];
    const dispatch = pool.dispatchEvent.bind(pool);
    pool.dispatchEvent = (e: Event) => {
      dispatched.push(e.type);
      return dispatch(e);
    };
    const held = await pool.lease("g");
    const queued = pool.withHandler("g", () => {});
    await tick();
    await held.release();
    await queued;
    clock.advance(12_000);
    assert.deepEqual(dispatched, [], "no listener, no event object");
    const closed: SessionCloseDetail[] = [];
    pool.addEventListener("sessionclose", (e) => closed.push(e.detail));
    await pool.withHandler("g", () => {});
    await pool.end();
    assert.deepEqual(dispatched, ["sessionclose"]);
    assert.equal(closed[0].reason, "pool-ended");
  });

  it("types each listener's event by its name, and still takes any other name", () => {
    const { pool } = setup({ g: { connection_count: 1 } });
    const listener = (e: PoolEventMap["sessionopen"]) => void e.detail.connectMs;
    pool.addEventListener("sessionopen", listener);
    pool.removeEventListener("sessionopen", listener);
    pool.addEventListener("custom", (e) => void e.type);
    pool.addEventListener("leasewait", { handleEvent: (e) => void e.detail.waitedMs });
  });
});
