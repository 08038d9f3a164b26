/**
 * No error of a driver escapes: every adapter, against a fake server that
 * sends malformed or unsupported authentication messages, rejects the
 * connect with a `ConnectionError` in time, and nothing reaches the
 * process as an unhandled rejection or an uncaught exception (a driver's
 * scripts run at once, each on a fake server of its own). Runs under
 * `deno test` and `bun test` (Bun.SQL on Bun only).
 *
 * @module
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import type { ConnectParams, Driver, DriverConnection } from "../../src/driver.ts";
import { ConnectionError } from "../../src/errors.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import pg from "pg";
import { adminQuery, sharedServers } from "../support/servers.ts";
import { connectParams } from "../support/params.ts";
import {
  auth,
  type FakeStep,
  message,
  SASL_SCRAM,
  startFakeServer,
} from "../support/fake_server.ts";
import { type EscapeWatch, watchEscapes } from "../support/escapes.ts";
import { runtimeDrivers } from "../support/drivers.ts";

const drivers = runtimeDrivers();

/**
 * Declared gap: Bun.SQL opens a new connection (seven in 3 s, measured) when
 * one is cut, or sends a short authentication message, during startup, until
 * its connect timeout, and says nothing until then. Nothing escapes; the
 * connect only fails late.
 */
const RETRIES_CUTS = new Set(["bun-sql"]);
const CUTS = new Set([
  "a short authentication message",
  "a connection cut during SCRAM",
  "a connection cut after the startup message",
]);

const scram = (challenge: string): FakeStep[] => [SASL_SCRAM, "read", auth(11, challenge)];

/** What the server does, and whether a PostgreSQL server answered before the fault. */
const SCRIPTS: [string, FakeStep[], reached?: false][] = [
  ["GSSAPI authentication", [auth(7)]],
  ["SSPI authentication", [auth(9)]],
  ["an unknown authentication code", [auth(99)]],
  ["a short authentication message", [message("R", new Uint8Array([0, 0]))]],
  ["a malformed MD5 challenge", [auth(5, new Uint8Array([1, 2]))]],
  ["a SCRAM challenge without salt", scram("r=abcdef,i=4096")],
  ["a SCRAM challenge with a non-numeric iteration count", scram("r=abcdef,s=c2FsdA==,i=abc")],
  ["a SCRAM challenge with a huge iteration count", scram("r=abcdef,s=c2FsdA==,i=999999999")],
  ["a connection cut during SCRAM", [SASL_SCRAM, "read", "close"]],
  ["a connection cut after the startup message", ["close"], false],
];

function params(port: number): ConnectParams {
  return {
    host: "127.0.0.1",
    port,
    database: "app",
    user: "app",
    password: "secret",
    ssl: "prefer",
    sslRootCert: undefined,
    connectTimeoutMs: 3_000,
    settings: {},
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

const text = (s: string) => new TextEncoder().encode(s);
const ready = message("Z", text("I"));
/**
 * A server that completes the startup (and answers one empty query, which
 * postgres.js sends to see the session up), then never says another word and
 * never closes: a frozen backend, or a link gone silent.
 */
const FROZEN: FakeStep[] = [
  auth(0),
  message("S", text("server_version\u000015.4\u0000")),
  message("S", text("in_hot_standby\u0000off\u0000")),
  ready,
  "read",
  message("I", new Uint8Array()),
  ready,
];

/** What one script did to a connect: its outcome and how long it took. */
interface ScriptResult {
  readonly outcome: { conn: DriverConnection } | { err: unknown };
  readonly took: number;
}

/** One script against a fresh driver, on a fake server of its own. */
async function connectTo(script: FakeStep[], makeDriver: () => Driver): Promise<ScriptResult> {
  const server = await startFakeServer(script);
  try {
    const started = Date.now();
    const outcome = await makeDriver().connect(params(server.port)).then(
      (conn) => ({ conn }),
      (err: unknown) => ({ err }),
    );
    const took = Date.now() - started;
    if ("conn" in outcome) await outcome.conn.close();
    return { outcome, took };
  } finally {
    await server.close();
  }
}

for (const { name: driverName, make: makeDriver } of drivers) {
  describe(`${driverName} against a misbehaving server`, () => {
    // The scripts run at once, each on its own fake server (Bun.SQL's retries take its connect
    // timeout); each test checks its own connect, and that nothing escaped while any ran.
    let batch: { watch: EscapeWatch; done: Promise<Map<string, ScriptResult>> } | undefined;
    const results = () => {
      if (batch === undefined) {
        const watch = watchEscapes();
        const done = Promise.all(
          SCRIPTS.map(async ([what, script]) =>
            [what, await connectTo(script, makeDriver)] as const
          ),
        ).then(async (all) => {
          await settle();
          return new Map(all);
        });
        batch = { watch, done };
      }
      return batch;
    };

    after(async () => {
      await batch?.done.catch(() => {});
      batch?.watch.stop();
    });

    it("close() ends within about a second against a server that never answers again", async () => {
      const watch = watchEscapes();
      const server = await startFakeServer(FROZEN);
      try {
        // (The fake server answers one query only: no array-type fetch.)
        const driver = driverName === "postgresjs"
          ? postgresjs({ fetchTypes: false })
          : makeDriver();
        const conn = await driver.connect({ ...params(server.port), ssl: "disable" });
        const started = Date.now();
        await conn.close();
        const took = Date.now() - started;
        assert.ok(took < 2_500, `close() took ${took} ms`);
        assert.equal(conn.closed, true);
        await settle();
        assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
      } finally {
        watch.stop();
        await server.close();
      }
    });

    for (const [what, , reached = true] of SCRIPTS) {
      it(`connect() rejects with ConnectionError, and nothing escapes, on ${what}`, async () => {
        const { watch, done } = results();
        const { outcome, took } = (await done).get(what)!;
        if ("conn" in outcome) assert.fail("connect() resolved");
        assert.ok(outcome.err instanceof ConnectionError, inspect(outcome.err));
        if (!(RETRIES_CUTS.has(driverName) && CUTS.has(what))) {
          // Well before the connect timeout: the driver saw the fault.
          assert.ok(took < 2_000, `took ${took} ms`);
          assert.equal(outcome.err.reached, reached, inspect(outcome.err));
        }
        assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
      });
    }
  });
}

/**
 * Backends killed while sessions are being established (during startup,
 * authentication and postgres.js's array-type fetch), and a connect timeout
 * that fires during that fetch: every connect resolves or rejects, and
 * nothing escapes.
 */
for (const { name: driverName, make: makeDriver } of drivers) {
  describe(`${driverName} while backends are killed during connect`, () => {
    it("connect() settles and nothing escapes when backends are terminated at every stage of startup", async () => {
      const server = (await sharedServers())[0];
      const app = `faults_kill_${driverName.replace(/\W/g, "_")}_${Date.now() % 100000}`;
      const watch = watchEscapes();
      let killing = true;
      const killer = (async () => {
        while (killing) {
          await adminQuery(
            server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            [app],
          ).catch(() => {});
        }
      })();
      try {
        const attempts = Array.from({ length: 40 }, async () => {
          // A fresh driver each time: postgres.js fetches array types on its first session.
          const conn = await makeDriver().connect(
            connectParams(server, { settings: { application_name: app }, connectTimeoutMs: 2000 }),
          );
          try {
            await conn.query("SELECT pg_sleep(0.01)");
          } finally {
            await conn.close();
          }
        });
        const outcomes = await Promise.allSettled(attempts);
        for (const o of outcomes) {
          if (o.status === "rejected") {
            const e = o.reason;
            assert.ok(e instanceof ConnectionError || e instanceof Error, inspect(e));
          }
        }
      } finally {
        killing = false;
        await killer;
        await settle();
        watch.stop();
      }
      assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
    });

    it(
      "connect() rejects with ConnectionError, and nothing escapes, when connectTimeoutMs fires during the array-type fetch",
      {
        skip: driverName === "postgresjs" ? false : "postgres.js only: the others fetch no types",
      },
      async () => {
        const server = (await sharedServers())[0];
        const watch = watchEscapes();
        const admin = new pg.Client({ connectionString: server.url });
        await admin.connect();
        try {
          // The catalog query waits behind this lock: the connect times out during it.
          await admin.query("BEGIN");
          await admin.query("LOCK TABLE pg_catalog.pg_type IN ACCESS EXCLUSIVE MODE");
          await assert.rejects(
            makeDriver().connect(connectParams(server, { connectTimeoutMs: 300 })),
            (err) => err instanceof ConnectionError && err.code === "CONNECT_TIMEOUT",
          );
        } finally {
          await admin.query("ROLLBACK").catch(() => {});
          await admin.end();
        }
        await settle();
        watch.stop();
        assert.deepEqual(watch.escaped.map((e) => inspect(e)), []);
      },
    );
  });
}
