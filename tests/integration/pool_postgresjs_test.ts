import { postgresjs } from "../../src/drivers/postgresjs.ts";
import { poolSuite } from "./pool_suite.ts";

poolSuite("postgresjs", () => postgresjs());
