/**
 * The primary cut off by the network instead of stopped (behind the test
 * proxy, stalled: it accepts and forwards nothing, on open connections too),
 * per driver, with a streaming standby: the `primary` group's query in flight
 * gets a `ConnectionError` after `query_timeout` and a grace, its next
 * callers get `OfflineError` within the ping and connect bounds (never a
 * hang), the `standby` group keeps serving; after `pg_promote()` the
 * `primary` group commits on the new primary within a second of its return
 * (printed), although the old primary still stalls rather than refuses.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  createPool,
  type Driver,
  isConnectionBroken,
  OfflineError,
  type Pool,
} from "../../mod.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { adminQuery } from "../support/servers.ts";
import { runtimeDrivers } from "../support/drivers.ts";
import { type StandbyPair, startStandbyPair } from "../support/standby_pair.ts";
import { caseBatch } from "../support/case_batch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a driver's case starts, for its describe's after() to stop. */
interface Rig {
  pair?: StandbyPair;
  proxy?: TestProxy;
  pool?: Pool;
}

/** The case of one driver, on its own primary, standby and proxy. */
async function cutOff(name: string, makeDriver: () => Driver, rig: Rig): Promise<void> {
  const pair = rig.pair = await startStandbyPair(
    "CREATE TABLE partition_t (id serial primary key, tag text)",
  );
  const proxy = rig.proxy = await startProxy({ target: pair.primary });
  const p = createPool({
    db: pair.endpoints({
      primary: { host: proxy.host, port: proxy.port, query_timeout: 500 },
    }),
    groups: {
      w: { connection_count: 3, target_session_attrs: "primary" },
      r: { connection_count: 2, target_session_attrs: "standby" },
    },
    driver: makeDriver(),
    pingAfterIdleMs: 0,
    pingTimeoutMs: 300,
  });
  rig.pool = p;
  const insert = (tag: string) =>
    p.withHandler("w", async (db) => {
      await db.query("insert into partition_t (tag) values ($1)", [tag]);
      return db.endpoint.id;
    }, { timeoutMs: 10_000 });
  await Promise.all([insert("warm"), insert("warm"), insert("warm")]);
  assert.equal(await p.withHandler("r", (db) => db.endpoint.id), "standby");

  // Stalled once the query is sent (a lease slowed by a busy machine must not be
  // caught in its ping or connect instead).
  let sent!: () => void;
  const sending = new Promise<void>((resolve) => sent = resolve);
  const inFlight = p.withHandler("w", (db) => {
    const running = db.query("select pg_sleep(0.2)");
    sent();
    return running;
  });
  await sending;
  await sleep(20);
  proxy.stall();
  const t0 = Date.now();
  await assert.rejects(inFlight, (err) => {
    assert.ok(err instanceof ConnectionError && isConnectionBroken(err), String(err));
    return true;
  });
  const cutMs = Date.now() - t0;

  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = Date.now();
    await assert.rejects(insert("cut"), (err) => {
      assert.ok(err instanceof OfflineError, String(err));
      assert.match(err.message, /group "w" \(target_session_attrs "primary"\)/);
      return true;
    });
    waits.push(Date.now() - t);
    assert.equal(await p.withHandler("r", (db) => db.endpoint.id), "standby");
  }
  assert.ok(Math.max(...waits) < 4000, `OfflineError after ${waits.join(", ")} ms`);
  assert.ok(p.stats().groups.w.total <= 3);

  const promoting = Date.now();
  await pair.standby.promote();
  const promoted = Date.now();
  let servedMs = -1;
  const attempts: string[] = [];
  while (servedMs < 0) {
    try {
      assert.equal(await insert("after"), "standby");
      servedMs = Date.now() - promoted;
    } catch (err) {
      assert.ok(err instanceof OfflineError || err instanceof ConnectionError, String(err));
      attempts.push(`+${Date.now() - promoted} ms ${(err as Error).message.slice(0, 200)}`);
      assert.ok(Date.now() - promoting < 15_000, `still failing 15 s later: ${err}`);
      await sleep(10);
    }
  }
  console.log(
    `[${name}] primary stalled: in-flight cut after ${cutMs} ms, OfflineError after ` +
      `${waits.join("/")} ms; pg_promote() took ${promoted - promoting} ms, then the ` +
      `primary group committed in ${servedMs} ms (${attempts.length} failed tries)`,
  );
  assert.ok(servedMs < 1000, `${servedMs} ms; failed attempts:\n${attempts.join("\n")}`);
  const rows = await adminQuery(
    pair.standby,
    "select count(*)::int as n from partition_t where tag = 'after'",
  );
  assert.equal(rows[0].n, 1);
  proxy.pass();
}

const drivers = runtimeDrivers();
const rigs = new Map(drivers.map(({ name }) => [name, {} as Rig]));
// The drivers' cases run at once, each on its own pair and proxy (their time is the timeouts':
// query_timeout and its grace, the ping's, the connect's); each test checks its own driver's, and
// that nothing escaped while any ran. The first waits for all.
const batch = caseBatch(
  drivers.map(({ name, make }) => [name, () => cutOff(name, make, rigs.get(name)!)] as const),
);

for (const { name } of drivers) {
  describe(`a primary cut off by the network over ${name}`, () => {
    after(async () => {
      await batch.stop();
      const rig = rigs.get(name)!;
      await rig.pool?.end();
      await rig.proxy?.close();
      await rig.pair?.dispose();
    });

    it(
      "in flight: ConnectionError; then OfflineError at once or within the bounds; promoted: served",
      () => batch.check(name),
    );
  });
}
