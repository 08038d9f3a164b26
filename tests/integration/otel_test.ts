/**
 * `@x/pgdbpool/otel` against a real server: leases, a timeout, then the
 * metrics an OpenTelemetry SDK reader collects, under the database-client
 * semantic-convention names, checked against `pool.stats()`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { AcquireTimeoutError, createPool, type Pool } from "../../mod.ts";
import { instrumentPool } from "../../src/otel/mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";

// A reader the test pulls from: `collect()` returns what an exporter would get.
class PullReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

const POOL = "db.client.connection.pool.name";

function points(metrics: ResourceMetrics, name: string): DataPoint<unknown>[] {
  const found = metrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) =>
    m.descriptor.name === name
  );
  assert.equal(found.length, 1, `one metric ${name}`);
  return found[0].dataPoints as DataPoint<unknown>[];
}

function valueOf(metrics: ResourceMetrics, name: string, attrs: Record<string, string>): unknown {
  const match = points(metrics, name).filter((p) =>
    Object.entries(attrs).every(([k, v]) => p.attributes[k] === v)
  );
  assert.equal(match.length, 1, `one point of ${name} for ${JSON.stringify(attrs)}`);
  return match[0].value;
}

function unitOf(metrics: ResourceMetrics, name: string): string {
  const m = metrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return m!.descriptor.unit;
}

describe("instrumentPool() against a real server", () => {
  let server: TestServer;
  let pool: Pool;
  const reader = new PullReader();
  const provider = new MeterProvider({ readers: [reader] });

  before(async () => {
    [server] = await sharedServers();
    pool = createPool({
      db: [endpointOf(server, { connect_timeout: 2 })],
      groups: { web: { connection_count: 3 }, tight: { connection_count: 1 } },
      driver: postgresjs(),
    });
  });

  after(async () => {
    await pool?.end();
    await provider.shutdown();
  });

  it("reports connections, limits, waits, timeouts, create, wait and use times per group", async () => {
    const metrics = instrumentPool(pool, { meter: provider.getMeter("pgdbpool-test") });
    for (let i = 0; i < 5; i++) await pool.withHandler("web", (db) => db.query("SELECT 1"));
    await Promise.all([1, 2].map(() => pool.withHandler("web", (db) => db.query("SELECT 1"))));
    const held = await pool.lease("tight");
    await assert.rejects(
      pool.withHandler("tight", () => 1, { timeoutMs: 50 }),
      AcquireTimeoutError,
    );
    const { resourceMetrics: m, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    const stats = pool.stats().groups;
    const web = { [POOL]: "web" };
    const tight = { [POOL]: "tight" };

    const count = "db.client.connection.count";
    const state = "db.client.connection.state";
    assert.equal(valueOf(m, count, { ...web, [state]: "idle" }), stats.web.idle);
    assert.equal(valueOf(m, count, { ...web, [state]: "used" }), 0);
    assert.equal(valueOf(m, count, { ...tight, [state]: "idle" }), 0);
    assert.equal(valueOf(m, count, { ...tight, [state]: "used" }), 1, "the held lease");
    assert.equal(valueOf(m, "db.client.connection.max", web), 3);
    assert.equal(valueOf(m, "db.client.connection.max", tight), 1);
    assert.equal(valueOf(m, "db.client.connection.pending_requests", tight), 0);
    assert.equal(valueOf(m, "db.client.connection.timeouts", tight), 1);
    assert.equal(valueOf(m, "db.client.connection.timeouts", web), 0);

    for (const name of ["wait_time", "create_time", "use_time"]) {
      assert.equal(unitOf(m, `db.client.connection.${name}`), "s");
    }
    const hist = (name: string, attrs: Record<string, string>) =>
      valueOf(m, `db.client.connection.${name}`, attrs) as Histogram;
    // Every lease of web is a wait sample (0 when served at once), and a use sample.
    assert.equal(hist("wait_time", web).count, 7);
    assert.equal(hist("use_time", web).count, 7);
    assert.equal(hist("create_time", web).count, stats.web.created);
    const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;
    assert.ok(close(hist("use_time", web).sum!, stats.web.useMs.sum / 1000));
    assert.ok(close(hist("create_time", web).sum!, stats.web.connectMs.sum / 1000));
    assert.ok(close(hist("wait_time", web).sum!, stats.web.acquireWaitMs.sum / 1000));
    // The lease that timed out got no session: no wait sample for it.
    assert.equal(hist("wait_time", tight).count, 1);

    await held.release();
    metrics.stop();
    await pool.withHandler("web", (db) => db.query("SELECT 1"));
    const later = (await reader.collect()).resourceMetrics;
    const useAfter = valueOf(later, "db.client.connection.use_time", web) as Histogram;
    assert.equal(useAfter.count, 7, "no sample after stop()");
  });

  it("throws a TypeError for something that is not a pool", () => {
    const fake = Object.assign(new EventTarget(), { stats: () => ({ groups: {} }) });
    assert.throws(() => instrumentPool(fake), TypeError);
  });
});
