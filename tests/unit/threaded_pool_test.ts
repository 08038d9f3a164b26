import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool, PoolShareError } from "../../mod.ts";
import { normalizeConfig, passwordOf } from "../../src/config/normalize.ts";
import { inputOf, isPoolHandle } from "../../src/threaded/handle.ts";
import { FakeDriver } from "../support/fake_driver.ts";

const SECRET = "s3cr3t-pässwörd";
const db = [
  { host: "a", port: 5432, name: "app", user: "app", pass: SECRET, connect_timeout: 3 },
  {
    host: "b",
    port: 5433,
    name: "app",
    user: "app",
    password: SECRET + "2",
    application_name: "t",
  },
];

let pools: Pool[] = [];
function track(p: Pool): Pool {
  pools.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(pools.map((p) => p.end()));
  pools = [];
});

function threaded(count = 2, driver = new FakeDriver()) {
  const main = track(createPool({
    type: "threaded",
    db,
    driver,
    groups: {
      g: { connection_count: count },
      tx: { connection_count: 1, autocommit: false, retry: 2 },
    },
    acquireTimeoutMs: 2000,
    pingAfterIdleMs: 60_000,
  }));
  return { main, driver };
}

describe("pool.share()", () => {
  it("refuses a non-threaded pool with PoolShareError", () => {
    const p = track(
      createPool({ db, groups: { g: { connection_count: 1 } }, driver: new FakeDriver() }),
    );
    assert.throws(
      () => p.share(),
      (err) => err instanceof PoolShareError && /non-threaded/.test(err.message),
    );
  });

  it("returns a cloneable handle whose string, JSON and inspected forms hold no password", () => {
    const { main } = threaded();
    const handle = structuredClone(main.share());
    assert.ok(isPoolHandle(handle));
    const forms = [String(handle), JSON.stringify(handle), inspect(handle), inspect(handle.memory)];
    for (const form of forms) {
      assert.ok(!form.includes(SECRET), form);
      assert.ok(!form.includes(Array.from(new TextEncoder().encode(SECRET)).join(",")));
    }
  });

  it("carries the normalised config, passwords included, through the handle", () => {
    const { main } = threaded();
    const original = normalizeConfig({
      type: "threaded",
      db,
      groups: {
        g: { connection_count: 2 },
        tx: { connection_count: 1, autocommit: false, retry: 2 },
      },
      acquireTimeoutMs: 2000,
      pingAfterIdleMs: 60_000,
    });
    const again = normalizeConfig(inputOf(structuredClone(main.share())).input);
    assert.deepEqual(again, original);
    assert.deepEqual(again.endpoints.map(passwordOf), [SECRET, SECRET + "2"]);
  });

  it("is refused once the pool has ended", async () => {
    const { main } = threaded();
    await main.end();
    assert.throws(() => main.share(), PoolShareError);
  });
});

describe("threaded pools", () => {
  it("share one budget: a second pool from the handle waits, then is served when the first releases", async () => {
    const { main, driver } = threaded(2);
    const other = track(createPool(structuredClone(main.share()), { driver }));
    const a = await main.lease("g");
    const b = await main.lease("g");
    let got = false;
    const waiting = other.lease("g").then((h) => (got = true, h));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, false);
    assert.equal(driver.open.size, 2);
    assert.deepEqual(
      [other.stats().shared?.groups.g.total, other.stats().shared?.groups.g.isolatesWaiting],
      [2, 1],
    );
    await a.release();
    const c = await waiting;
    // The first pool's session closed so that the second could open its own.
    assert.equal(driver.maxOpen, 2);
    const mine = main.stats().shared!, theirs = other.stats().shared!;
    assert.deepEqual(
      [mine.isolates, mine.groups.g.own, theirs.groups.g.own, theirs.groups.g.total],
      [
        2,
        1,
        1,
        2,
      ],
    );
    await Promise.all([b.release(), c.release()]);
  });

  it("gives idle sessions back to a waiting pool, and end() returns every slot", async () => {
    const { main, driver } = threaded(2);
    const other = track(createPool(main.share(), { driver }));
    await Promise.all([main.lease("g"), main.lease("g")].map(async (h) => (await h).release()));
    assert.equal(main.stats().groups.g.idle, 2);
    const h = await other.lease("g");
    assert.ok(driver.maxOpen <= 2);
    await h.release();
    await other.end();
    assert.deepEqual([main.stats().shared?.isolates, main.stats().shared?.groups.g.total], [
      1,
      main.stats().groups.g.total,
    ]);
  });
});

describe("threaded pipelined groups", () => {
  it("draw on the budget too; open() in another isolate opens what the budget allows", async () => {
    const driver = new FakeDriver();
    const main = track(createPool({
      type: "threaded",
      db,
      driver,
      groups: { p: { connection_count: 1, pipeline: true } },
    }));
    const other = track(createPool(main.share(), { driver }));
    await main.withHandler("p", (h) => h.query("SELECT 1"));
    await other.open();
    assert.deepEqual([other.stats().groups.p.total, other.stats().shared?.groups.p.total], [0, 1]);
    assert.equal(driver.open.size, 1);
  });
});

function inspect(value: unknown): string {
  const g = globalThis as {
    Deno?: { inspect(v: unknown): string };
    Bun?: { inspect(v: unknown): string };
  };
  return (g.Deno ?? g.Bun)!.inspect(value);
}
