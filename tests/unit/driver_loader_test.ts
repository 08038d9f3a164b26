/**
 * How an adapter gets its client library (`clientLoader`): the one the
 * application passed (checked when the driver is built), or the npm package
 * imported on first use, a failed import reported with the package to
 * install and tried again on the next connect.
 *
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { clientLoader, type NpmClient } from "../../src/drivers/shared/lazy.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { nodePostgres } from "../../src/drivers/node_postgres/mod.ts";

function fakeClient(importIt: () => Promise<Record<string, unknown>>): NpmClient<string> {
  return {
    client: "fake.js",
    pkg: "fake",
    builder: "fakeDriver",
    option: "lib",
    expected: "the fake library (a string)",
    lacks: "has no default export",
    importIt,
    inModule: (mod) => mod.default,
    isLibrary: (value): value is string => typeof value === "string",
  };
}

describe("clientLoader()", () => {
  it("clientLoader() uses the library the application passed and imports nothing", async () => {
    let imports = 0;
    const load = clientLoader(
      "given",
      fakeClient(() => Promise.resolve({ default: `${++imports}` })),
    );
    assert.equal(await load(), "given");
    assert.equal(await load(), "given");
    assert.equal(imports, 0);
  });

  it("clientLoader() refuses a passed value that is not the library, naming the option", () => {
    assert.throws(
      () => clientLoader(42, fakeClient(() => Promise.resolve({}))),
      (err: Error) =>
        err instanceof TypeError &&
        err.message ===
          'Cannot build the fake.js driver: "lib" must be the fake library (a string), received number',
    );
  });

  it("clientLoader() names the package to install when the import fails, and imports again on the next call", async () => {
    let imports = 0;
    const notFound = new Error('Cannot find module "fake"');
    const load = clientLoader(
      undefined,
      fakeClient(() =>
        ++imports === 1 ? Promise.reject(notFound) : Promise.resolve({ default: "lib" })
      ),
    );
    await assert.rejects(load(), (err: Error) => {
      assert.equal(
        err.message,
        'Cannot load fake.js: install the npm package "fake" or pass it as fakeDriver({ lib })',
      );
      assert.equal(err.cause, notFound);
      return true;
    });
    assert.equal(await load(), "lib");
    assert.equal(await load(), "lib");
    assert.equal(imports, 2);
  });

  it("clientLoader() rejects with a TypeError when the module is not the library", async () => {
    const load = clientLoader(undefined, fakeClient(() => Promise.resolve({ default: 42 })));
    await assert.rejects(load(), {
      name: "TypeError",
      message: 'Cannot load fake.js: the module "fake" has no default export',
    });
  });

  it("postgresjs() and nodePostgres() refuse a library option that is not the library", () => {
    assert.throws(() => postgresjs({ postgres: {} as never }), {
      name: "TypeError",
      message:
        `Cannot build the postgres.js driver: "postgres" must be postgres.js's default export (a function), received object`,
    });
    assert.throws(() => nodePostgres({ pg: { Client: 1 } as never }), {
      name: "TypeError",
      message:
        'Cannot build the node-postgres driver: "pg" must be the pg module (with a Client class), received object',
    });
  });
});
