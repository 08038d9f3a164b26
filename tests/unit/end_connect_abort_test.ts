/**
 * `pool.end()` aborts the connects in flight: the driver sees its
 * `ConnectParams.signal` abort, the caller gets `PoolClosedError`, and the
 * aborted attempt counts nothing against the endpoint. And the adapters'
 * shared deadline, `withConnectTimeout`, honours the signal.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionError,
  type ConnectParams,
  createPool,
  type Driver,
  type DriverConnection,
  PoolClosedError,
} from "../../mod.ts";
import { withConnectTimeout } from "../../src/drivers/shared/connect.ts";

/** A driver whose connects never finish unless aborted. */
function hangingDriver(seen: ConnectParams[]): Driver {
  return {
    name: "hanging",
    connect(params: ConnectParams): Promise<DriverConnection> {
      seen.push(params);
      return new Promise((_, reject) => {
        params.signal?.addEventListener("abort", () => reject(new Error("aborted")));
      });
    },
  };
}

describe("pool.end() with a connect in flight", () => {
  it("aborts the connect, rejects its caller with PoolClosedError, and counts no failure", async () => {
    const seen: ConnectParams[] = [];
    const pool = createPool({
      db: { host: "db1", name: "app", user: "app" },
      groups: { default: { connection_count: 1 }, shared: { connection_count: 1, pipeline: true } },
      driver: hangingDriver(seen),
      endTimeoutMs: 60_000,
    });
    const calls = [pool.query("SELECT 1"), pool.query("SELECT 1", [], { group: "shared" })];
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen.length, 2);
    assert.ok(seen.every((p) => p.signal?.aborted === false));
    // Resolves at once: the opening sessions hold nothing up (endTimeoutMs is a minute).
    await pool.end();
    assert.ok(seen.every((p) => p.signal?.aborted === true));
    for (const call of calls) await assert.rejects(call, PoolClosedError);
    const [endpoint] = pool.stats().endpoints;
    assert.equal(endpoint.up, true);
    assert.equal(endpoint.failures, 0);
  });
});

describe("withConnectTimeout()", () => {
  it("tears the attempt down and rejects coded CONNECT_ABORTED when the signal aborts", async () => {
    const abort = new AbortController();
    let torn = 0;
    const attempt = withConnectTimeout(
      new Promise(() => {}),
      60_000,
      "db1:5432",
      () => torn++,
      abort.signal,
    );
    abort.abort();
    await assert.rejects(attempt, (err) => {
      assert.ok(err instanceof ConnectionError);
      assert.equal(err.code, "CONNECT_ABORTED");
      assert.equal(err.reached, false);
      return true;
    });
    assert.equal(torn, 1);
  });

  it("rejects at once, after the tear-down, when the signal was aborted already", async () => {
    let torn = 0;
    const attempt = withConnectTimeout(
      new Promise(() => {}),
      0,
      "db1:5432",
      () => torn++,
      AbortSignal.abort(),
    );
    await assert.rejects(attempt, { code: "CONNECT_ABORTED" });
    assert.equal(torn, 1);
  });

  it("resolves with the session when it opens first; a later abort tears nothing down", async () => {
    const abort = new AbortController();
    let torn = 0;
    const value = await withConnectTimeout(
      Promise.resolve("session"),
      60_000,
      "db1:5432",
      () => torn++,
      abort.signal,
    );
    abort.abort();
    assert.equal(value, "session");
    assert.equal(torn, 0);
  });
});
