/**
 * The exclusive handler tracks the transaction from what the SQL says, not
 * from command tags (which a fake session answers as PostgreSQL does:
 * `COMMIT AND CHAIN` → `COMMIT`, `ROLLBACK TO` → `ROLLBACK`): release rolls
 * back exactly when a transaction may be open. The same against real
 * PostgreSQL is in tests/integration/sql_transactions_test.ts.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { FakeDriver, type FakeSession } from "../support/fake_driver.ts";

const A = { host: "a", port: 5432, user: "u", pass: "secret" };
const pools: Pool[] = [];

// Tags as PostgreSQL sends them: the first keyword, whatever follows it.
function tagOf(text: string): string {
  const verb = text.replace(/\/\*.*?\*\/|--[^\n]*\n/g, " ").trim().split(/\s+/)[0].toUpperCase();
  return verb === "START" ? "START TRANSACTION" : verb;
}

async function releaseSql(autocommit: boolean, texts: string[]): Promise<string[]> {
  const driver = new FakeDriver();
  driver.respond = (text) => {
    if (text.includes("1/0")) throw new Error("division by zero");
    return { rows: [], rowCount: 0, command: tagOf(text) };
  };
  const pool = createPool({ db: [A], groups: { g: { connection_count: 1, autocommit } }, driver });
  pools.push(pool);
  let session: FakeSession | undefined;
  let ran = 0;
  await pool.withHandler("g", async (db) => {
    for (const text of texts) await db.query(text).catch(() => {});
    session = driver.sessions[0];
    ran = session.log.length;
  }).catch(() => {});
  await pool.withHandler("g", () => Promise.resolve());
  assert.equal(driver.sessions.length, 1, "one session throughout");
  return session!.log.slice(ran);
}

describe("transaction tracking from the SQL text", () => {
  after(() => Promise.all(pools.map((p) => p.end())));

  const rollsBack: [string, string[]][] = [
    ["COMMIT AND CHAIN", ["BEGIN", "COMMIT AND CHAIN"]],
    ["ROLLBACK AND CHAIN behind a comment", ["BEGIN", "/* ; */ rollback and chain"]],
    ["ROLLBACK TO SAVEPOINT behind a comment", ["BEGIN", "SAVEPOINT s", "-- x\nROLLBACK TO s"]],
    ["BEGIN as the second statement of a text", ["SELECT 1; BEGIN"]],
    ["a failed text that held BEGIN", ["BEGIN; SELECT 1/0"]],
    ["BEGIN behind a nested comment", ["/* /* ; */ */ BEGIN"]],
  ];
  for (const [what, texts] of rollsBack) {
    it(`autocommit group: release rolls back after ${what}`, async () => {
      assert.deepEqual(await releaseSql(true, texts), ["ROLLBACK"]);
    });
  }

  const clean: [string, string[]][] = [
    ["plain statements", ["SELECT 1", "INSERT INTO t VALUES (1)"]],
    ["a multi-statement text without transaction control", ["INSERT INTO t VALUES (1); SELECT 1"]],
    ["BEGIN ... COMMIT in one text", ["BEGIN; INSERT INTO t VALUES (1); COMMIT"]],
    ["COMMIT AND CHAIN, then COMMIT", ["BEGIN", "COMMIT AND CHAIN", "COMMIT"]],
    ["BEGIN in a string", ["SELECT 'BEGIN'"]],
  ];
  for (const [what, texts] of clean) {
    it(`autocommit group: release sends nothing after ${what}`, async () => {
      assert.deepEqual(await releaseSql(true, texts), []);
    });
  }

  it("transactional group: work after COMMIT AND CHAIN is committed on return", async () => {
    assert.deepEqual(await releaseSql(false, ["INSERT INTO t VALUES (1)", "COMMIT AND CHAIN"]), [
      "COMMIT",
    ]);
  });
});
