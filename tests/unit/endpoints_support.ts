/**
 * A fake driver for the endpoint tests: each endpoint has a role (primary,
 * standby, read-only), reported as session parameters (PostgreSQL 14+) or
 * answered to the role query; connects can be scripted to fail.
 */
import assert from "node:assert/strict";
import { type Pool, QueryError } from "../../mod.ts";
import type { FakeClock } from "../support/fake_clock.ts";
import type { ConnectParams, Driver, DriverConnection } from "../../mod.ts";
import { defaultResponder, FakeDriver, type FakeSession } from "../support/fake_driver.ts";
import { ROLE_QUERY } from "../../src/endpoints/roles.ts";

export interface FakeRole {
  standby: boolean;
  readOnly?: boolean;
}

export class RoleDriver implements Driver {
  readonly name = "roles";
  readonly fake = new FakeDriver();
  /** Role per `host:port`; absent: primary. */
  readonly roles = new Map<string, FakeRole>();
  /** Report the role as parameters (true) or only answer the role query (false). */
  reports = true;
  /** Errors the next connects reject with, in order (after the server was reached or not). */
  readonly failNext: (() => unknown)[] = [];
  roleQueries = 0;

  constructor() {
    this.fake.respond = (text, params, s) => {
      const role = this.roleOf(s.endpoint);
      if (text === ROLE_QUERY) {
        this.roleQueries++;
        return {
          rows: [{ in_recovery: role.standby, read_only: role.readOnly ? "on" : "off" }],
          rowCount: 1,
          command: "SELECT",
        };
      }
      if (/^\s*insert/i.test(text) && (role.standby || role.readOnly)) {
        throw new QueryError("cannot execute INSERT in a read-only transaction", { code: "25006" });
      }
      return defaultResponder(text, params, s);
    };
  }

  roleOf(endpoint: string): FakeRole {
    return this.roles.get(endpoint) ?? { standby: false };
  }

  /** Changes a server's role; sessions that report parameters see it at once. */
  setRole(endpoint: string, role: FakeRole): void {
    this.roles.set(endpoint, role);
    if (!this.reports) return;
    for (const s of this.fake.open) if (s.endpoint === endpoint) this.#report(s);
  }

  async connect(params: ConnectParams): Promise<DriverConnection> {
    const fail = this.failNext.shift();
    if (fail) {
      this.fake.connectAttempts.push(`${params.host}:${params.port}`);
      await Promise.resolve();
      throw fail();
    }
    const s = await this.fake.connect(params) as FakeSession;
    if (this.reports) this.#report(s);
    return s;
  }

  #report(s: FakeSession): void {
    const role = this.roleOf(s.endpoint);
    s.parameters = {
      server_version: "16.0",
      in_hot_standby: role.standby ? "on" : "off",
      default_transaction_read_only: role.readOnly ? "on" : "off",
    };
  }
}

/** Lets pending promise callbacks run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A pool a test built, with its fake driver and clock. */
export interface Built {
  pool: Pool;
  driver: RoleDriver;
  clock: FakeClock;
}

/** Ends every pool in `made` (emptying it) and checks that none left a session open. */
export async function endAll(made: Built[]): Promise<void> {
  for (const { pool, driver, clock } of made.splice(0)) {
    const ending = pool.end();
    clock.advance(60_000);
    await ending;
    assert.equal(driver.fake.open.size, 0, "sessions left open");
  }
}
