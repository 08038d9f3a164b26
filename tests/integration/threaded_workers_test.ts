/**
 * `type: "threaded"` across real Workers and real servers: 4 Workers share
 * one `connection_count` over two servers (sampled in pg_stat_activity
 * throughout), each gets its share of the calls in every second, a Worker
 * terminated while holding leases gives its slots back, and an endpoint one
 * Worker found down is avoided by the others. The Workers are started once
 * and serve the tests in turn (each test's pool ends in them before the
 * next starts): Deno type-checks every new Worker's module graph.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPool, type Pool } from "../../mod.ts";
import { sharedServers, type TestServer } from "../support/servers.ts";
import { startProxy, type TestProxy } from "../../src/testing/mod.ts";
import { STALE_MS } from "../../src/threaded/member.ts";

const BUDGET = 6;
const fixture = new URL("./fixtures/threaded_worker.ts", import.meta.url).href;

interface Reply {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

/** A Worker running tests/integration/fixtures/threaded_worker.ts, one request at a time. */
class TestWorker {
  readonly worker = new Worker(fixture, { type: "module" });
  #replies: ((r: Reply) => void)[] = [];
  constructor() {
    this.worker.onmessage = (e) => this.#replies.shift()?.(e.data);
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      this.#replies.shift()?.({ ok: false, error: String(e.message) });
    };
  }
  async ask<T extends Reply>(message: Record<string, unknown>): Promise<T> {
    const reply = new Promise<Reply>((resolve) => this.#replies.push(resolve));
    this.worker.postMessage(message);
    const r = await reply;
    assert.ok(r.ok, r.error ?? "the Worker failed");
    return r as T;
  }
}

function endpoint(s: { host: string; port: number }, server: TestServer, app: string) {
  return {
    host: s.host,
    port: s.port,
    name: server.database,
    user: server.user,
    password: server.password,
    application_name: app,
  };
}

/**
 * The most sessions seen in two samples in a row. A backend whose session the pool just closed
 * stays in pg_stat_activity until its process exits, so under load one sample can show it beside
 * the session opened in its slot; sessions over the budget for real show in consecutive samples.
 */
function sustained(samples: number[]): number {
  return Math.max(...samples.slice(1).map((n, i) => Math.min(n, samples[i])));
}

/** Samples the sessions of `app` on every server, both queried at once, until stopped. */
function sampler(servers: TestServer[], app: string) {
  const pools = servers.map((s) =>
    createPool({ db: [endpoint(s, s, "pgdbpool-sampler")], groups: { s: { connection_count: 1 } } })
  );
  const samples: number[] = [];
  let stop = false;
  const running = (async () => {
    while (!stop) {
      const counts = await Promise.all(pools.map((p) =>
        p.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [app],
          { group: "s" },
        )
      ));
      samples.push(counts.reduce((n, r) => n + r.rows[0].n, 0));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    samples,
    async stop() {
      stop = true;
      await running;
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}

describe("threaded pool across Workers", () => {
  let servers: TestServer[];
  // Workers in use by the running test, and those waiting for the next (no pool in them).
  const workers: TestWorker[] = [];
  const idle: TestWorker[] = [];

  const pools: Pool[] = [];

  before(async () => {
    // Four Workers serve the three tests (all 4; then 3, of which one is terminated; then the 3
    // left); they load their module while the servers are found.
    for (let i = 0; i < 4; i++) idle.push(new TestWorker());
    servers = await sharedServers();
  });

  after(async () => {
    for (const w of [...workers.splice(0), ...idle.splice(0)]) w.worker.terminate();
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });

  function mainPool(app: string, db = servers.map((s) => endpoint(s, s, app)), extra = {}) {
    const pool = createPool({
      type: "threaded",
      db,
      groups: { default: { connection_count: BUDGET } },
      acquireTimeoutMs: 30_000,
      ...extra,
    });
    pools.push(pool);
    return pool;
  }

  async function startWorkers(pool: Pool, n: number): Promise<TestWorker[]> {
    const started = Array.from({ length: n }, () => idle.shift() ?? new TestWorker());
    workers.push(...started);
    await Promise.all(started.map((w) => w.ask({ cmd: "start", handle: pool.share() })));
    return started;
  }

  /** Ends each Worker's pool; the Workers wait for the next test. */
  async function endWorkers(list: TestWorker[]): Promise<void> {
    await Promise.all(list.map((w) => w.ask({ cmd: "end" })));
    for (const w of list) {
      workers.splice(workers.indexOf(w), 1);
      idle.push(w);
    }
  }

  it("4 Workers × 50 callers never pass connection_count, every call succeeds, none starves", async () => {
    const app = `threaded-${crypto.randomUUID().slice(0, 8)}`;
    const pool = mainPool(app);
    const list = await startWorkers(pool, 4);
    const sample = sampler(servers, app);
    // The first connects of 4 Workers at once take a while on a busy machine:
    // shares are measured after a warm-up, over 3 full seconds.
    const warmupMs = 3000, measuredMs = 3000;
    const durationMs = warmupMs + measuredMs;
    const start = Date.now() + warmupMs;
    const runs = await Promise.all(
      list.map((w) =>
        w.ask<Reply & { done: number[]; errors: string[] }>({
          cmd: "run",
          callers: 50,
          durationMs,
          sleepS: 0.02,
        })
      ),
    );
    await sample.stop();
    const shared = pool.stats().shared!;
    await endWorkers(list);
    for (const r of runs) assert.deepEqual(r.errors.slice(0, 3), []);
    assert.ok(sample.samples.length >= 20, `only ${sample.samples.length} samples`);
    assert.ok(sustained(sample.samples) <= BUDGET, `sessions seen: ${sample.samples}`);
    assert.ok(sample.samples.some((n) => n > 0));
    assert.equal(shared.isolates, 5);
    // In every full second of the run, each Worker completed at least a fifth of the calls.
    for (let t = start; t + 1000 <= start + measuredMs; t += 1000) {
      const per = runs.map((r) => r.done.filter((d) => d >= t && d < t + 1000).length);
      const total = per.reduce((a, b) => a + b, 0);
      assert.ok(total > 0);
      for (const n of per) assert.ok(n >= total / 5, `second ${(t - start) / 1000}: ${per}`);
    }
    // Once the Workers ended, their slots are all back.
    assert.equal(pool.stats().shared!.groups.default.total, 0);
    assert.equal(pool.stats().shared!.isolates, 1);
  });

  it("a Worker terminated while holding leases gives its slots back; the others keep going", async () => {
    const app = `threaded-${crypto.randomUUID().slice(0, 8)}`;
    const pool = mainPool(app);
    const [victim, ...others] = await startWorkers(pool, 3);
    await victim.ask({ cmd: "hold", count: 4 });
    assert.equal(pool.stats().shared!.groups.default.total, 4);
    const sample = sampler(servers, app);
    const running = others.map((w) =>
      w.ask<Reply & { done: number[]; errors: string[] }>({
        cmd: "run",
        callers: 10,
        durationMs: STALE_MS + 3000,
        sleepS: 0.01,
      })
    );
    await new Promise((r) => setTimeout(r, 300));
    victim.worker.terminate();
    workers.splice(workers.indexOf(victim), 1);
    const killedAt = Date.now();
    // Its row is reclaimed within the bound (a heartbeat or two past STALE_MS).
    while (pool.stats().shared!.isolates > 3) {
      assert.ok(Date.now() - killedAt < STALE_MS + 2000, "the dead Worker's row was not reclaimed");
      await new Promise((r) => setTimeout(r, 50));
    }
    const runs = await Promise.all(running);
    await sample.stop();
    for (const r of runs) {
      assert.deepEqual(r.errors.slice(0, 3), []);
      // Calls completed after the slots came back: the others kept going.
      assert.ok(r.done.some((d) => d > killedAt + STALE_MS + 500));
    }
    assert.ok(sustained(sample.samples) <= BUDGET, `sessions seen: ${sample.samples}`);
    await endWorkers(others);
    assert.equal(pool.stats().shared!.groups.default.total, 0);
  });

  it("an endpoint one Worker found down is avoided by the others", async () => {
    const app = `threaded-${crypto.randomUUID().slice(0, 8)}`;
    const proxy: TestProxy = await startProxy({ target: servers[1] });
    try {
      // A port that refuses (ECONNREFUSED) is an outage at the first attempt.
      await proxy.close();
      const db = [endpoint(servers[0], servers[0], app), endpoint(proxy, servers[1], app)];
      const pool = mainPool(app, db, { reconnectBaseMs: 10_000, reconnectMaxMs: 10_000 });
      const [first, ...others] = await startWorkers(pool, 3);
      await first.ask({ cmd: "run", callers: 4, durationMs: 200, sleepS: 0 });
      const seen = await first.ask<Reply & { attempts: Record<string, number> }>({ cmd: "stats" });
      assert.ok(seen.attempts[proxy.port] > 0, "the first Worker tried the refused endpoint");
      // The news travels on the next wake-up or heartbeat.
      await new Promise((r) => setTimeout(r, 600));
      for (const w of others) {
        const r = await w.ask<Reply & { errors: string[] }>({
          cmd: "run",
          callers: 4,
          durationMs: 300,
          sleepS: 0,
        });
        assert.deepEqual(r.errors.slice(0, 3), []);
        const s = await w.ask<
          Reply & { attempts: Record<string, number>; stats: { endpoints: { up: boolean }[] } }
        >({ cmd: "stats" });
        assert.equal(
          s.attempts[proxy.port] ?? 0,
          0,
          "another Worker tried the endpoint marked down",
        );
        assert.equal(s.stats.endpoints[1].up, false);
      }
      assert.equal(pool.stats().endpoints[1].up, false);
      await endWorkers([first, ...others]);
    } finally {
      await proxy.close();
    }
  });
});
