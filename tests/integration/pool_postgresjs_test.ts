import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { poolSuite } from "./pool_suite.ts";

poolSuite("postgresjs", () => postgresjs());
