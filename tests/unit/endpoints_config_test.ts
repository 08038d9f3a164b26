import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { normalizeConfig } from "../../src/config/normalize.ts";
import { ConfigError } from "../../src/errors.ts";

function configError(fn: () => unknown, path: string, ...parts: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.path, path, caught.message);
  for (const part of parts) assert.ok(caught.message.includes(part), caught.message);
}

describe("normalizeConfig() endpoint ids", () => {
  it("defaults an endpoint's id to host:port, IPv6 in brackets", () => {
    const c = normalizeConfig({
      db: ["postgres://u@db1,[::1]:5433/app", { host: "db2", port: 6000 }],
      groups: { g: { connection_count: 1 } },
    });
    assert.deepEqual(c.endpoints.map((e) => e.id), ["db1:5432", "[::1]:5433", "db2:6000"]);
  });

  it("keeps a given id", () => {
    const c = normalizeConfig({
      db: { host: "db1", id: "main" },
      groups: { g: { connection_count: 1 } },
    });
    assert.equal(c.endpoints[0].id, "main");
  });

  it("refuses a duplicate id, naming the second", () => {
    configError(
      () =>
        normalizeConfig({
          db: [{ host: "a", id: "x" }, { host: "b", id: "x" }],
          groups: { g: { connection_count: 1 } },
        }),
      "db[1].id",
      '"x"',
      "db[0].id",
    );
    configError(
      () =>
        normalizeConfig({
          db: [{ host: "a" }, "postgres://u@a:5432/d"],
          groups: { g: { connection_count: 1 } },
        }),
      "db[1]",
      '"a:5432"',
    );
  });

  it("refuses an id that is not a non-empty string", () => {
    configError(
      () => normalizeConfig({ db: { host: "a", id: "" }, groups: { g: { connection_count: 1 } } }),
      "db.id",
    );
    configError(
      () => normalizeConfig({ db: { host: "a", id: 3 }, groups: { g: { connection_count: 1 } } }),
      "db.id",
    );
  });
});

describe("normalizeConfig() groups.<g>.endpoints", () => {
  const db = [{ host: "a", id: "primary" }, { host: "b", id: "replica" }, { host: "c" }];

  it("binds a group to endpoints by id, in the pool's order; unbound groups get undefined", () => {
    const c = normalizeConfig({
      db,
      groups: {
        w: { connection_count: 1, endpoints: ["c:5432", "primary"] },
        r: { connection_count: 1 },
      },
    });
    assert.deepEqual(c.groups.w.endpoints, ["primary", "c:5432"]);
    assert.equal(c.groups.r.endpoints, undefined);
  });

  it("refuses an unknown id with the path groups.<g>.endpoints[i]", () => {
    configError(
      () =>
        normalizeConfig({
          db,
          groups: { w: { connection_count: 1, endpoints: ["primary", "nope"] } },
        }),
      "groups.w.endpoints[1]",
      '"nope"',
      '"replica"',
    );
  });

  it("refuses a repeated id, an empty list and a non-list", () => {
    configError(
      () =>
        normalizeConfig({
          db,
          groups: { w: { connection_count: 1, endpoints: ["primary", "primary"] } },
        }),
      "groups.w.endpoints[1]",
    );
    configError(
      () => normalizeConfig({ db, groups: { w: { connection_count: 1, endpoints: [] } } }),
      "groups.w.endpoints",
    );
    configError(
      () => normalizeConfig({ db, groups: { w: { connection_count: 1, endpoints: "primary" } } }),
      "groups.w.endpoints",
    );
  });
});

describe("normalizeConfig() target_session_attrs", () => {
  it("defaults to any and takes every libpq value, under either spelling", () => {
    for (const t of ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"]) {
      const c = normalizeConfig({
        db: { host: "a" },
        groups: {
          g: { connection_count: 1, target_session_attrs: t },
          h: { connection_count: 1, targetSessionAttrs: t },
          d: { connection_count: 1 },
        },
      });
      assert.equal(c.groups.g.targetSessionAttrs, t);
      assert.equal(c.groups.h.targetSessionAttrs, t);
      assert.equal(c.groups.d.targetSessionAttrs, "any");
    }
  });

  it("refuses an invalid value, naming the key", () => {
    configError(
      () =>
        normalizeConfig({
          db: { host: "a" },
          groups: { g: { connection_count: 1, target_session_attrs: "master" } },
        }),
      "groups.g.target_session_attrs",
      '"master"',
      '"prefer-standby"',
    );
    configError(
      () =>
        normalizeConfig({
          db: { host: "a" },
          groups: { g: { connection_count: 1, targetSessionAttrs: "Primary" } },
        }),
      "groups.g.targetSessionAttrs",
    );
  });

  it("takes a URL's ?target_session_attrs= as every group's default; a group's own value wins", () => {
    const c = normalizeConfig({
      db: "postgres://u@a,b/app?target_session_attrs=read-write",
      groups: {
        g: { connection_count: 1 },
        r: { connection_count: 1, target_session_attrs: "standby" },
      },
    });
    assert.equal(c.groups.g.targetSessionAttrs, "read-write");
    assert.equal(c.groups.r.targetSessionAttrs, "standby");
  });

  it("refuses an invalid URL value and two URLs that disagree", () => {
    configError(
      () =>
        normalizeConfig({
          db: "postgres://u@a/app?target_session_attrs=master",
          groups: { g: { connection_count: 1 } },
        }),
      "db.target_session_attrs",
      '"master"',
    );
    configError(
      () =>
        normalizeConfig({
          db: [
            "postgres://u@a/app?target_session_attrs=primary",
            "postgres://u@b/app?target_session_attrs=standby",
          ],
          groups: { g: { connection_count: 1 } },
        }),
      "db[1].target_session_attrs",
    );
  });
});
