import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isRetryable, PoolError, PoolOverloadedError } from "../../mod.ts";

describe("PoolOverloadedError", () => {
  it("names the group, the limit and the state, and is retryable", () => {
    const err = new PoolOverloadedError("reports", 3, "total 1, leased 1, idle 0, waiting 3");
    assert.ok(err instanceof PoolError);
    assert.equal(err.name, "PoolOverloadedError");
    assert.equal(err.group, "reports");
    assert.equal(err.maxWaiting, 3);
    assert.match(err.message, /"reports"/);
    assert.match(err.message, /max_waiting 3/);
    assert.match(err.message, /waiting 3/);
    assert.equal(isRetryable(err), true);
  });
});
