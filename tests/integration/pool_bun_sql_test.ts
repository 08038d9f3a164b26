import { describe, it } from "node:test";
import { bunSql } from "../../src/drivers/bun_sql/mod.ts";
import { poolSuite } from "./pool_suite.ts";

if (typeof (globalThis as { Bun?: unknown }).Bun !== "undefined") {
  poolSuite("bun-sql", () => bunSql());
} else {
  describe("pool over bun-sql", () => {
    it("runs only under Bun (Bun.SQL is Bun's built-in)", { skip: "not running on Bun" }, () => {});
  });
}
