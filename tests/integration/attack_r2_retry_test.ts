/**
 * A group's `retry` against a real server, over every driver: once `fn`
 * committed (any spelling of COMMIT or END, COMMIT AND CHAIN, PREPARE
 * TRANSACTION, COMMIT PREPARED, a multi-statement text, `db.sql`, a pyformat
 * text, `db.commit()`), a later serialization failure (40001) never runs `fn`
 * again and its row is never written twice. And the opposite: nothing
 * committed (ROLLBACK, a savepoint rolled back to, a text refused before it
 * was sent) lets `fn` run again; so does a real 40001 of two concurrent
 * SERIALIZABLE transactions at `fn`'s own `db.commit()` or at the pool's
 * final commit. The cases run at once (tests/support/case_batch.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CommitUnknownError,
  ConnectionError,
  createPool,
  type Handler,
  type Pool,
  QueryError,
} from "../../mod.ts";
import { startProxy } from "../../src/testing/mod.ts";
import { adminQuery, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";
import { type DriverCase, runtimeDrivers } from "../support/drivers.ts";
import { caseBatch } from "../support/case_batch.ts";

const drivers = runtimeDrivers();
const tag = `attack_r2_retry_${Date.now() % 100000}`;
const RAISE_40001 = "DO $$BEGIN RAISE EXCEPTION 'r2 conflict' USING ERRCODE = '40001'; END$$";
const is40001 = (e: unknown) => e instanceof QueryError && e.code === "40001";

let server: TestServer;
const pools = new Map<string, Pool>();
const tableOf = (d: DriverCase) => `${tag}_${d.name.replace(/\W/g, "_")}`;

// Ways for fn to commit: each is sent after fn's INSERT (a failure of its own is caught).
const COMMITS: [string, (db: Handler) => Promise<unknown>][] = [
  ...[
    "commit",
    "CoMmIt",
    "/* c */ COMMIT",
    "/* a /* b */ c */COMMIT",
    "-- x\r\nCOMMIT\r\n",
    "END",
    "end transaction",
    "COMMIT AND CHAIN",
    "SELECT 1; COMMIT",
    "COMMIT; SELECT 1",
    "PREPARE TRANSACTION 'attack_r2'",
    "COMMIT PREPARED 'attack_r2'",
  ].map((text) =>
    [JSON.stringify(text), (db: Handler) => db.query(text)] as [
      string,
      (db: Handler) => Promise<unknown>,
    ]
  ),
  ["db.sql`COMMIT`", (db) => db.sql`COMMIT`],
  ["db.commit()", (db) => db.commit()],
];

async function rows(d: DriverCase, key: string): Promise<number> {
  const r = await adminQuery(server, `SELECT count(*)::int AS n FROM ${tableOf(d)} WHERE k = $1`, [
    key,
  ]);
  return r[0].n as number;
}

/** Fails instead of hanging. */
function within(what: string, run: () => Promise<void>): () => Promise<void> {
  return () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: still running after 8 s`)), 8000);
    });
    return Promise.race([run(), late]).finally(() => clearTimeout(timer));
  };
}

function casesOf(d: DriverCase): [string, () => Promise<void>][] {
  const pool = () => pools.get(d.name)!;
  const table = tableOf(d);
  const cases: [string, () => Promise<void>][] = [];
  for (const [i, [how, commit]] of COMMITS.entries()) {
    const key = `c${i}`;
    cases.push([`${d.name}: ${how} then 40001`, async () => {
      let runs = 0;
      await assert.rejects(
        pool().withHandler("tx", async (db) => {
          runs++;
          await db.query(`INSERT INTO ${table} (k) VALUES ($1)`, [key]);
          // A commit that failed (COMMIT PREPARED in a transaction) aborted the transaction.
          await commit(db).catch(() => db.rollback());
          await db.query(RAISE_40001);
        }),
        is40001,
      );
      assert.equal(runs, 1, `${how}: fn ran again after it committed`);
      assert.ok((await rows(d, key)) <= 1, "the row was written twice");
    }]);
  }
  cases.push([`${d.name}: pyformat COMMIT then 40001`, async () => {
    let runs = 0;
    await assert.rejects(
      pool().withHandler("pyf", async (db) => {
        runs++;
        await db.query(`INSERT INTO ${table} (k) VALUES (%(k)s)`, { k: "pyf" });
        await db.query("COMMIT", {});
        await db.query(RAISE_40001);
      }),
      is40001,
    );
    assert.equal(runs, 1);
    assert.equal(await rows(d, "pyf"), 1);
  }]);
  // Nothing committed: fn runs again, and its second run is the one that stays.
  const undone: [string, (db: Handler) => Promise<unknown>][] = [
    ["ROLLBACK", (db) => db.query("ROLLBACK")],
    ["db.rollback()", (db) => db.rollback()],
    ["SAVEPOINT / ROLLBACK TO", async (db) => {
      await db.query("SAVEPOINT s");
      await db.query(`INSERT INTO ${table} (k) VALUES ('never')`);
      await db.query("ROLLBACK TO SAVEPOINT s");
    }],
  ];
  for (const [i, [how, undo]] of undone.entries()) {
    const key = `u${i}`;
    cases.push([`${d.name}: ${how} then 40001`, async () => {
      let runs = 0;
      await pool().withHandler("tx", async (db) => {
        runs++;
        await undo(db);
        await db.query(`INSERT INTO ${table} (k) VALUES ($1)`, [key]);
        if (runs === 1) await db.query(RAISE_40001);
      });
      assert.equal(runs, 2, `${how}: fn did not run again`);
      assert.equal(await rows(d, key), 1);
    }]);
  }
  // Refused before it was sent: nothing was committed.
  cases.push([`${d.name}: a COMMIT text refused before sending (NUL), then 40001`, async () => {
    let runs = 0;
    await pool().withHandler("tx", async (db) => {
      runs++;
      await assert.rejects(db.query("COMMIT\0"), { code: "22021" });
      await db.query(`INSERT INTO ${table} (k) VALUES ('nul')`);
      if (runs === 1) await db.query(RAISE_40001);
    });
    assert.equal(runs, 2, "a text never sent counted as a commit");
    assert.equal(await rows(d, "nul"), 1);
  }]);
  // A failed transaction-control statement leaves the pool unsure of the transaction, and the
  // server's transaction aborted: the user's ROLLBACK must answer, and what follows must stay
  // inside fn's transaction (not be committed on its own, then run again by the retry).
  cases.push([
    `${d.name}: ROLLBACK after a failed RELEASE SAVEPOINT answers; later work stays in fn's transaction`,
    async () => {
      await assert.rejects(
        pool().withHandler("tx", async (db) => {
          await assert.rejects(db.query("RELEASE SAVEPOINT nosuch"), { code: "3B001" });
          await db.query("ROLLBACK");
          await db.query(`INSERT INTO ${table} (k) VALUES ('after_rollback')`);
          throw new Error("fn failed");
        }),
        /fn failed/,
      );
      assert.equal(await rows(d, "after_rollback"), 0, "written though fn threw");
    },
  ]);
  cases.push([
    `${d.name}: after a failed RELEASE SAVEPOINT and ROLLBACK, a 40001 retry writes once`,
    async () => {
      let runs = 0;
      await pool().withHandler("tx", async (db) => {
        runs++;
        await db.query("RELEASE SAVEPOINT nosuch").catch(() => {});
        await db.query("ROLLBACK").catch(() => {});
        await db.query(`INSERT INTO ${table} (k) VALUES ('after_rollback_retry')`);
        if (runs === 1) await db.query(RAISE_40001);
      });
      assert.equal(runs, 2);
      assert.equal(await rows(d, "after_rollback_retry"), 1, "the first run's row was committed");
    },
  ]);
  // The answer to a commit lost with the connection: the outcome is unknown, fn never runs again.
  for (const how of ["db.commit()", "the final commit", 'db.query("COMMIT")']) {
    cases.push([`${d.name}: ${how} whose answer is lost`, async () => {
      const proxy = await startProxy({ target: server });
      const p = createPool({
        db: {
          ...endpointOf(server, { application_name: `attack_r2_lost_${d.name}` }),
          host: proxy.host,
          port: proxy.port,
        },
        groups: { tx: { connection_count: 1, autocommit: false, retry: 2 } },
        driver: d.make(),
      });
      let runs = 0;
      try {
        const work = p.withHandler("tx", async (db) => {
          runs++;
          await db.query("SELECT 1");
          proxy.silenceOpen(); // the COMMIT goes nowhere, and no answer comes
          setTimeout(() => proxy.drop(), 100);
          if (how === "db.commit()") await db.commit();
          if (how === 'db.query("COMMIT")') await db.query("COMMIT");
        });
        await assert.rejects(work, (e) => {
          if (how === 'db.query("COMMIT")') assert.ok(e instanceof ConnectionError, String(e));
          else assert.ok(e instanceof CommitUnknownError, `${e}`);
          return true;
        });
        assert.equal(runs, 1, "fn ran again after a commit of unknown outcome");
      } finally {
        await p.end();
        await proxy.close();
      }
    }]);
  }
  // Two SERIALIZABLE transactions in write skew: the second to commit gets a real 40001.
  for (const own of [true, false]) {
    const how = own ? "fn's own db.commit()" : "the pool's final commit";
    cases.push([`${d.name}: a real 40001 at ${how}`, async () => {
      // A table of its own: without an index, a read locks the whole table for SSI.
      const ssi = `${table}_ssi_${own}`;
      await adminQuery(server, `CREATE TABLE ${ssi} (k text)`);
      const [ka, kb] = ["a", "b"];
      let bothWrote!: () => void;
      const wrote = new Promise<void>((r) => (bothWrote = r));
      let waiting = 2;
      let aDone!: () => void;
      const aCommitted = new Promise<void>((r) => (aDone = r));
      const runs = { a: 0, b: 0 };
      const skew = (me: "a" | "b", mine: string, theirs: string) => async (db: Handler) => {
        const first = ++runs[me] === 1;
        await db.query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
        await db.query(`SELECT count(*) FROM ${ssi} WHERE k = $1`, [theirs]);
        await db.query(`INSERT INTO ${ssi} (k) VALUES ($1)`, [mine]);
        if (!first) return;
        if (--waiting === 0) bothWrote();
        await wrote;
        if (me === "b") await aCommitted;
        if (own) await db.commit();
      };
      const a = pool().withHandler("tx", skew("a", ka, kb)).finally(aDone);
      const b = pool().withHandler("tx", skew("b", kb, ka));
      await Promise.all([a, b]);
      assert.equal(runs.a, 1);
      assert.equal(runs.b, 2, "the transaction refused at commit (40001) ran again");
      const written = await adminQuery(server, `SELECT k FROM ${ssi} ORDER BY k`);
      assert.deepEqual(written.map((r) => r.k), [ka, kb]);
    }]);
  }
  return cases.map(([key, run]) => [key, within(key, run)]);
}

const batch = caseBatch(drivers.flatMap(casesOf));

describe("a group's retry after fn committed, against real PostgreSQL", () => {
  before(async () => {
    [server] = await sharedServers();
    for (const d of drivers) {
      await adminQuery(server, `CREATE TABLE IF NOT EXISTS ${tableOf(d)} (k text)`);
      const groups = { connection_count: 4, autocommit: false, retry: 2 };
      pools.set(
        d.name,
        createPool({
          db: endpointOf(server, { application_name: `attack_r2_retry_${d.name}` }),
          groups: { tx: groups, pyf: { ...groups, connection_count: 2, paramstyle: "pyformat" } },
          driver: d.make(),
        }),
      );
    }
  });

  after(async () => {
    await batch.stop();
    for (const p of pools.values()) await p.end();
    for (const d of drivers) {
      for (const t of ["", "_ssi_true", "_ssi_false"]) {
        await adminQuery(server, `DROP TABLE IF EXISTS ${tableOf(d)}${t}`);
      }
    }
  });

  for (const d of drivers) {
    for (const [key] of casesOf(d)) it(key, () => batch.check(key));
  }
});
