import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";
import { poolSuite } from "./pool_suite.ts";

poolSuite("node-postgres", () => nodePostgres());
