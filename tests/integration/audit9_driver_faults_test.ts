/**
 * No error of a driver escapes (issue 9, item 0), attacked with server
 * messages the other fault tests do not send: malformed messages after the
 * authentication (a ParameterStatus without its NULs, a short BackendKeyData,
 * an unknown message type, a length below 4, a ReadyForQuery with an odd
 * status, a FATAL startup error) and malformed replies to a query (a
 * DataRow longer than its message, a RowDescription that claims more fields
 * than it holds, a CommandComplete without its NUL, an unexpected
 * CopyOutResponse). Per driver, through the pool: each call settles with a
 * typed `PoolError` (or succeeds), in time, and nothing reaches the process
 * as an unhandled rejection or an uncaught exception (a driver's scripts run
 * at once, each on its own server and pool). A `statement_timeout`
 * that fires during postgres.js's array-type fetch is a `ConnectionError`.
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import pg from "pg";
import { ConnectionError, createPool, type Driver, PoolError } from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { auth, type FakeStep, message, startFakeServer } from "../support/fake_server.ts";
import { type EscapeWatch, watchEscapes } from "../support/escapes.ts";
import { sharedServers } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers({ postgresjs: { fetchTypes: false } });

const text = (s: string) => new TextEncoder().encode(s);
const bytes = (...b: number[]) => new Uint8Array(b);
const ready = message("Z", text("I"));
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

/** Startup up to the point a driver sends its first query. */
const STARTED: FakeStep[] = [
  auth(0),
  message("S", text("server_version\u000018.0\u0000")),
  message("K", bytes(0, 0, 0, 1, 0, 0, 0, 2)),
  ready,
];

/** A reply to the first query the driver sends (postgres.js's probe, or the caller's). */
const answer = (...reply: Uint8Array[]): FakeStep[] => [...STARTED, "read", ...reply, ready];

/** A RowDescription of one int4 column named `n`. */
const ONE_INT = message(
  "T",
  new Uint8Array([
    0,
    1,
    ...text("n\u0000"),
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    23,
    0,
    4,
    255,
    255,
    255,
    255,
    0,
    0,
  ]),
);

const SCRIPTS: [string, FakeStep[]][] = [
  ["a ParameterStatus without its NULs", [auth(0), message("S", text("server_version")), ready]],
  ["a BackendKeyData too short", [auth(0), message("K", bytes(1, 2)), ready]],
  ["an unknown message type after authentication", [auth(0), message("~", text("x")), ready]],
  ["a message whose length is below 4", [auth(0), bytes(83, 0, 0, 0, 1), ready]],
  ["a huge declared length, then a hang-up", [auth(0), bytes(83, 127, 255, 255, 255), "close"]],
  ["a ReadyForQuery with an unknown status", [auth(0), message("Z", text("?"))]],
  ["a FATAL startup error without a SQLSTATE", [message("E", text("SFATAL\u0000Mno\u0000\u0000"))]],
  ["an ErrorResponse with no fields at all", [message("E", bytes(0))]],
  [
    "a DataRow longer than its message",
    answer(ONE_INT, message("D", bytes(0, 1, 0, 0, 0, 200, 49))),
  ],
  [
    "a RowDescription claiming more fields than it holds",
    answer(message("T", bytes(0, 9, ...text("n\u0000"))), message("C", text("SELECT 0\u0000"))),
  ],
  ["a CommandComplete without its NUL", answer(message("C", text("SELECT 1")))],
  ["an unexpected CopyOutResponse", answer(message("H", bytes(0, 0, 1, 0, 0)))],
  ["a DataRow with no RowDescription", answer(message("D", bytes(0, 1, 0, 0, 0, 1, 49)))],
];

/** What one script did to a call through the pool. */
interface CaseResult {
  readonly outcome: unknown;
  readonly took: number;
}

/** One script against one driver: its own fake server and pool; the call's outcome and time. */
async function runCase(script: FakeStep[], makeDriver: () => Driver): Promise<CaseResult> {
  const server = await startFakeServer(script);
  const pool = createPool({
    db: {
      host: server.host,
      port: server.port,
      user: "app",
      name: "app",
      pass: "secret",
      connect_timeout: 2,
      query_timeout: 1_000,
      ssl: "disable",
    },
    groups: { g: { connection_count: 1 } },
    driver: makeDriver(),
    pingTimeoutMs: 1_000,
    endTimeoutMs: 1_000,
  });
  try {
    const started = Date.now();
    const outcome = await pool.withHandler(
      "g",
      (db) => db.query("SELECT 1 AS n"),
      { timeoutMs: 6_000 },
    ).then(() => "resolved", (err: unknown) => err);
    return { outcome, took: Date.now() - started };
  } finally {
    await pool.end();
    await server.close();
  }
}

for (const { name: driverName, make: makeDriver } of drivers) {
  describe(`${driverName} through the pool against malformed server messages`, () => {
    // The scripts run at once, each on its own fake server and pool (most of their time is
    // timeouts); each test checks its own call, and that nothing escaped while any of them ran.
    let watch: EscapeWatch | undefined;
    let batch: Promise<Map<string, CaseResult>> | undefined;
    const results = () =>
      batch ??= (async () => {
        watch = watchEscapes();
        const done = await Promise.all(
          SCRIPTS.map(async ([what, script]) => [what, await runCase(script, makeDriver)] as const),
        );
        await settle();
        return new Map(done);
      })();

    after(async () => {
      await batch?.catch(() => {});
      watch?.stop();
    });

    for (const [what] of SCRIPTS) {
      it(`withHandler() settles typed, in time, and nothing escapes, on ${what}`, async () => {
        const { outcome, took } = (await results()).get(what)!;
        if (outcome !== "resolved") {
          assert.ok(outcome instanceof PoolError, inspect(outcome));
        }
        assert.ok(took < 8_000, `took ${took} ms`);
        assert.deepEqual(watch!.escaped.map((e) => inspect(e)), []);
      });
    }
  });
}

describe("postgresjs: statement_timeout during the array-type fetch", () => {
  it("connect() rejects with ConnectionError, and nothing escapes", async () => {
    const server = (await sharedServers())[0];
    const watch = watchEscapes();
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      // The catalog query waits behind this lock until the session's statement_timeout.
      await admin.query("BEGIN");
      await admin.query("LOCK TABLE pg_catalog.pg_type IN ACCESS EXCLUSIVE MODE");
      const outcome = await postgresjs().connect(
        connectParams(server, { connectTimeoutMs: 5_000, settings: { statement_timeout: "200" } }),
      ).then(async (conn) => {
        await conn.close();
        return "resolved";
      }, (err: unknown) => err);
      assert.ok(outcome instanceof ConnectionError, inspect(outcome));
    } finally {
      await admin.query("ROLLBACK").catch(() => {});
      await admin.end();
    }
    await settle();
    watch.stop();
    assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
  });
});

describe("postgresjs: a copy reply to the caller's own query (as if the COPY refusal were fooled)", () => {
  // postgres.js resolves such a query with a stream; the adapter must take it out of play.
  const COPY_REPLIES: [string, Uint8Array[]][] = [
    ["CopyOutResponse and data", [message("H", bytes(0, 0, 1, 0, 0)), message("d", text("1\n"))]],
    ["CopyInResponse", [message("G", bytes(0, 0, 1, 0, 0))]],
    ["CopyBothResponse", [message("W", bytes(0, 0, 0))]],
  ];

  for (const [what, reply] of COPY_REPLIES) {
    it(`withHandler() rejects with ConnectionError on a ${what}, and nothing escapes at end()`, async () => {
      const watch = watchEscapes();
      // The probe gets an empty reply, the caller's query the copy reply.
      const server = await startFakeServer([
        ...STARTED,
        "read",
        message("I", bytes()),
        ready,
        "read",
        ...reply,
      ]);
      const pool = createPool({
        db: {
          host: server.host,
          port: server.port,
          user: "app",
          name: "app",
          pass: "secret",
          connect_timeout: 2,
          query_timeout: 1_000,
          ssl: "disable",
        },
        groups: { g: { connection_count: 1, autocommit: true } },
        driver: postgresjs({ fetchTypes: false, prepare: false }),
        pingTimeoutMs: 1_000,
        endTimeoutMs: 1_000,
      });
      try {
        const outcome = await pool.withHandler("g", (db) => db.query("SELECT 1 AS n"))
          .then(() => "resolved", (err: unknown) => err);
        assert.ok(outcome instanceof ConnectionError, inspect(outcome));
        assert.match(String((outcome as Error).cause), /copy sub-protocol/);
      } finally {
        await pool.end();
        await server.close();
      }
      await settle();
      watch.stop();
      assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
    });
  }
});
