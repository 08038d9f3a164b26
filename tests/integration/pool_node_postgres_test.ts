import { nodePostgres } from "../../src/drivers/node_postgres.ts";
import { poolSuite } from "./pool_suite.ts";

poolSuite("node-postgres", () => nodePostgres());
