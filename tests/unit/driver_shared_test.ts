/**
 * The shared driver layer on its own, no server: the lazy loader (a failed
 * import is tried again), the session lifecycle (one error, bounded close),
 * the COPY check, the parameter check, and the text form of arrays.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, QueryError } from "../../src/errors.ts";
import { lazyLoader } from "../../src/drivers/shared/lazy.ts";
import { CLOSE_GRACE_MS, Session } from "../../src/drivers/shared/session.ts";
import { copyRefusal } from "../../src/drivers/shared/copy_check.ts";
import { checkParams, refusal } from "../../src/drivers/shared/params.ts";
import { endpointLabel, withConnectTimeout } from "../../src/drivers/shared/connect.ts";
import { systemClock } from "../../src/core/clock.ts";
import { isCertificatePem } from "../../src/drivers/shared/tls.ts";
import { parseArray, serializeArray } from "../../src/drivers/postgresjs/array_text.ts";

describe("deadlines longer than a timer can wait (2^31 - 1 ms, about 24.8 days)", () => {
  const month = 30 * 24 * 3_600_000;
  const settledWithin = async (p: Promise<unknown>, ms: number) => {
    let settled = false;
    p.then(() => (settled = true), () => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, ms));
    return settled;
  };

  it("a connect_timeout of a month does not fire at once", async () => {
    let tornDown = false;
    const never = new Promise<never>(() => {});
    const p = withConnectTimeout(never, month, "db:5432", () => (tornDown = true));
    assert.equal(await settledWithin(p, 50), false);
    assert.equal(tornDown, false);
  });

  it("the system clock's timers wait, not fire, for a month", async () => {
    let fired = false;
    const t = systemClock.setTimeout(() => (fired = true), month);
    await new Promise((resolve) => setTimeout(resolve, 50));
    systemClock.clearTimeout(t);
    assert.equal(fired, false);
  });
});

describe("lazyLoader()", () => {
  it("lazyLoader() tries again after a failed load, and keeps a success", async () => {
    let calls = 0;
    const load = lazyLoader(() => {
      calls++;
      return calls === 1 ? Promise.reject(new Error("not installed")) : Promise.resolve(calls);
    });
    await assert.rejects(load(), /not installed/);
    assert.equal(await load(), 2);
    assert.equal(await load(), 2);
    assert.equal(calls, 2);
  });

  it("lazyLoader() shares one load between concurrent callers", async () => {
    let calls = 0;
    const load = lazyLoader(() => Promise.resolve(++calls));
    assert.deepEqual(await Promise.all([load(), load(), load()]), [1, 1, 1]);
  });
});

describe("Session", () => {
  it("Session.lost() keeps the first cause and refuses with the same ConnectionError", async () => {
    let destroyed = 0;
    const session = new Session("test", "db1:5432", {
      end: () => Promise.resolve(),
      destroy: () => void destroyed++,
    });
    const first = session.lost(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
    session.lost(new Error("later"));
    assert.equal(session.closed, true);
    assert.ok(first instanceof ConnectionError);
    assert.equal(first.code, "ECONNRESET");
    assert.match(first.message, /ECONNRESET/);
    assert.equal(session.ended(), first);
    await assert.rejects(session.refuse(), (err) => err === first);
    assert.equal(destroyed, 1);
    await session.close();
  });

  it("Session.close() gives up on a peer that never answers and destroys the socket", async () => {
    let destroyed = 0;
    const session = new Session("test", "db1:5432", {
      end: () => new Promise<void>(() => {}),
      destroy: () => void destroyed++,
    });
    const started = Date.now();
    await session.close();
    const took = Date.now() - started;
    assert.ok(took >= CLOSE_GRACE_MS - 50 && took < CLOSE_GRACE_MS + 2000, `took ${took} ms`);
    assert.equal(destroyed, 1);
    assert.equal(session.closed, true);
  });
});

describe("copyRefusal()", () => {
  it("copyRefusal() finds COPY at the start of any statement, behind comments", () => {
    for (
      const text of [
        "COPY t TO STDOUT",
        "  copy t FROM STDIN",
        "/* a; /* nested */ b */ Copy t TO STDOUT",
        "-- note\nCOPY t TO STDOUT",
        "SELECT 1; COPY t TO STDOUT",
        "SELECT ';'; copy t TO STDOUT",
      ]
    ) assert.ok(copyRefusal(text) instanceof QueryError, text);
  });

  it("copyRefusal() ignores copy inside literals, identifiers, comments and other words", () => {
    for (
      const text of [
        "SELECT 'copy'",
        'SELECT "copy" FROM t',
        "SELECT $$; COPY t TO STDOUT$$",
        "SELECT $tag$ ; copy $tag$",
        "SELECT E'\\'; COPY t TO STDOUT'",
        "/* COPY t TO STDOUT */ SELECT 1",
        "SELECT copycat FROM t",
        "SELECT 1 -- ; COPY t",
        "INSERT INTO copy_log VALUES ($1)",
      ]
    ) assert.equal(copyRefusal(text), undefined, text);
  });
});

describe("checkParams() and refusal()", () => {
  it("checkParams() refuses circular objects, a throwing toJSON, symbols and functions", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const throwing = {
      toJSON() {
        throw new Error("no");
      },
    };
    for (const bad of [circular, throwing, Symbol("s"), () => 1, [1, [circular]]]) {
      assert.throws(() => checkParams([1, bad]), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, /\$2/);
        return true;
      });
    }
  });

  it("checkParams() passes scalars, null, dates, bytes, arrays and plain objects", () => {
    checkParams([1, "a", null, undefined, 1n, true, new Date(), new Uint8Array(2), [1n, null], {
      a: [1, { b: "c" }],
    }]);
  });

  it("refusal() gives a QueryError without SQLSTATE for a bad parameter", () => {
    const err = refusal("SELECT $1", [Symbol("s")]);
    assert.ok(err instanceof QueryError);
    assert.equal(err.code, undefined);
    assert.ok(err.cause instanceof TypeError);
  });
});

describe("endpointLabel()", () => {
  it("endpointLabel() brackets IPv6 addresses only", () => {
    assert.equal(endpointLabel("db1", 5432), "db1:5432");
    assert.equal(endpointLabel("::1", 5432), "[::1]:5432");
    assert.equal(endpointLabel("/var/run/postgresql", 5432), "/var/run/postgresql:5432");
  });
});

describe("parseArray() and serializeArray()", () => {
  it("parseArray() reads NULL as null, quoted NULL as text, nesting, escapes and dimensions", () => {
    assert.deepEqual(parseArray('{a,NULL,"NULL",null}', undefined, ","), ["a", null, "NULL", null]);
    assert.deepEqual(parseArray("{{1,2},{3,NULL}}", Number, ","), [[1, 2], [3, null]]);
    assert.deepEqual(parseArray('{"a\\"b","c\\\\d","e,f"}', undefined, ","), [
      'a"b',
      "c\\d",
      "e,f",
    ]);
    assert.deepEqual(parseArray("[0:1]={7,8}", Number, ","), [7, 8]);
    assert.deepEqual(parseArray("{}", undefined, ","), []);
    assert.deepEqual(parseArray('{"(1,2),(0,0)";"(3,3),(1,1)"}', undefined, ";"), [
      "(1,2),(0,0)",
      "(3,3),(1,1)",
    ]);
  });

  it("serializeArray() quotes and escapes elements and writes null as NULL", () => {
    assert.equal(
      serializeArray(['a"b', null, "c\\d", ["x"]], undefined, ","),
      '{"a\\"b",NULL,"c\\\\d",{"x"}}',
    );
    const text = serializeArray(["NULL", null], undefined, ",") as string;
    assert.deepEqual(parseArray(text, undefined, ","), ["NULL", null]);
  });
});

describe("isCertificatePem()", () => {
  it("isCertificatePem() accepts PEM certificates only", () => {
    const der = new Uint8Array(80);
    der[0] = 0x30;
    const body = btoa(String.fromCharCode(...der));
    const pem = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
    assert.equal(isCertificatePem(pem), true);
    assert.equal(isCertificatePem(pem + pem), true);
    assert.equal(isCertificatePem("not a certificate"), false);
    assert.equal(isCertificatePem(`${pem}trailing`), false);
    assert.equal(
      isCertificatePem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
      false,
    );
    assert.equal(
      isCertificatePem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----"),
      false,
    );
  });
});
