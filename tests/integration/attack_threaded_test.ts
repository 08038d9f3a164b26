/**
 * `type: "threaded"` attacked against real PostgreSQL (postgres.js). A second
 * pool built from the handle in the same isolate draws on the same shared
 * memory as a Worker's would: aborts and timeouts while another isolate holds
 * every slot, connects that fail, end() on either side while the other works,
 * drain and resize in one isolate, stats under churn, and the handle's forms
 * with a password in a URL.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AcquireTimeoutError,
  createPool,
  type Pool,
  PoolClosedError,
  type PoolConfigInput,
  PoolShareError,
} from "../../mod.ts";
import { postgresjs } from "../../src/drivers/postgresjs/mod.ts";
import { freePort, sharedServers, type TestServer } from "../support/servers.ts";
import { endpointOf } from "../support/params.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`never happened: ${what}`);
}

/** Every shared figure is ≥ 0, and the isolates' own shares add up to the shared total. */
function consistent(pools: Pool[], group: string): void {
  const shared = pools.map((p) => p.stats().shared!.groups[group]);
  for (const s of shared) {
    for (const [k, v] of Object.entries(s)) assert.ok(v >= 0, `${k} is ${v}`);
    assert.ok(s.total <= s.budget, `total ${s.total} above budget ${s.budget}`);
  }
  const own = shared.reduce((n, s) => n + s.own, 0);
  assert.equal(own, shared[0].total, "the own shares do not add up to the total");
}

describe("attacks on threaded pools", () => {
  let server: TestServer;
  const pools: Pool[] = [];

  function main(count: number, extra: Partial<PoolConfigInput> = {}): Pool {
    const p = createPool({
      type: "threaded",
      db: endpointOf(server),
      groups: { g: { connection_count: count } },
      driver: postgresjs(),
      ...extra,
    });
    pools.push(p);
    return p;
  }
  function joined(of: Pool): Pool {
    const p = createPool(structuredClone(of.share()), { driver: postgresjs() });
    pools.push(p);
    return p;
  }

  before(async () => {
    server = (await sharedServers())[0];
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
  });

  it("a caller waiting for a slot another isolate holds: its abort and its timeout win, no slot leaks", async () => {
    const a = main(2);
    const b = joined(a);
    const held = [await a.lease("g"), await a.lease("g")];
    const reason = new Error("caller gave up");
    const ac = new AbortController();
    const aborted = b.lease("g", { signal: ac.signal });
    const timed = b.lease("g", { timeoutMs: 200 });
    await sleep(50);
    assert.equal(b.stats().shared!.groups.g.isolatesWaiting, 1);
    ac.abort(reason);
    await assert.rejects(aborted, (err) => err === reason);
    await assert.rejects(timed, AcquireTimeoutError);
    await until("b out of line", () => b.stats().shared!.groups.g.isolatesWaiting === 0);
    consistent([a, b], "g");
    assert.equal(b.stats().shared!.groups.g.own, 0);
    for (const h of held) await h.release();
    // b can have the whole budget now.
    const got = await Promise.all([b.lease("g"), b.lease("g")]);
    consistent([a, b], "g");
    for (const h of got) await h.release();
  });

  it("connects that fail give their slots back", async () => {
    const port = await freePort();
    const a = main(2, { db: { ...endpointOf(server), port, connect_timeout: 1 } });
    const b = joined(a);
    for (let i = 0; i < 3; i++) {
      await assert.rejects(b.lease("g", { timeoutMs: 300 }));
      await assert.rejects(a.lease("g", { timeoutMs: 300 }));
    }
    await until("every slot back", () => a.stats().shared!.groups.g.total === 0);
    consistent([a, b], "g");
  });

  it("end() in an isolate while its callers wait for a slot: they fail at once, the line is left", async () => {
    const a = main(1);
    const b = joined(a);
    const held = await a.lease("g");
    const waiting = [1, 2, 3].map(() => b.lease("g"));
    await sleep(30);
    const ending = b.end();
    for (const w of waiting) await assert.rejects(w, PoolClosedError);
    await ending;
    assert.deepEqual(
      [a.stats().shared!.isolates, a.stats().shared!.groups.g.isolatesWaiting],
      [1, 0],
    );
    await held.release();
    consistent([a], "g");
  });

  it("the first pool ends while another isolate holds leases: that isolate works on", async () => {
    const a = main(2);
    const b = joined(a);
    const h = await b.lease("g");
    await a.end();
    assert.equal((await h.query("SELECT 1 AS n")).rows[0].n, 1);
    await h.release();
    const rows = await Promise.all(
      [1, 2, 3].map(() => b.query("SELECT 2 AS n", [], { group: "g" })),
    );
    assert.equal(rows.length, 3);
    assert.deepEqual([b.stats().shared!.isolates, b.stats().shared!.groups.g.total <= 2], [
      1,
      true,
    ]);
    consistent([b], "g");
  });

  it("drain and resize in one isolate hand the slots to the other's waiting callers", async () => {
    const a = main(2);
    const b = joined(a);
    await Promise.all([a.lease("g"), a.lease("g")].map(async (p) => (await p).release()));
    const h = await a.lease("g");
    const waiting = b.lease("g");
    await sleep(30);
    a.drain("g");
    a.resize("g", 1);
    const got = await waiting;
    await h.release();
    await until("a holds at most one", () => a.stats().shared!.groups.g.own <= 1);
    consistent([a, b], "g");
    await got.release();
  });

  it("stats stay consistent under churn in two isolates", async () => {
    const a = main(3);
    const b = joined(a);
    let running = true;
    const errors: unknown[] = [];
    const loops = [a, b, a, b, a, b].map(async (p) => {
      while (running) {
        try {
          await p.withHandler("g", (db) => db.query("SELECT 1"), { timeoutMs: 2000 });
        } catch (err) {
          errors.push(err);
        }
      }
    });
    for (let i = 0; i < 30; i++) {
      await sleep(10);
      const sa = a.stats().shared!.groups.g, sb = b.stats().shared!.groups.g;
      for (const s of [sa, sb]) {
        for (const [k, v] of Object.entries(s)) assert.ok(v >= 0, `${k} is ${v}`);
        assert.ok(s.total <= s.budget);
      }
    }
    running = false;
    await Promise.all(loops);
    assert.deepEqual(errors, []);
    consistent([a, b], "g");
  });

  it("a handle shared after setEndpoints() never leads to a removed endpoint", async () => {
    const [, other] = await sharedServers();
    const a = main(2);
    a.setEndpoints(endpointOf(other));
    const port = async (p: Pool) =>
      (await p.query<{ port: number }>("SELECT inet_server_port() AS port", [], { group: "g" }))
        .rows[0].port;
    assert.equal(await port(a), other.port);
    // Never the removed server: a handle to the new list, or a PoolShareError.
    let b: Pool;
    try {
      b = joined(a);
    } catch (err) {
      assert.ok(err instanceof PoolShareError && /setEndpoints/.test(err.message), String(err));
      return;
    }
    assert.equal(await port(b), other.port);
  });

  it("one handle used twice in one isolate, and again after the first pool ended, stays in budget", async () => {
    const a = main(2);
    const handle = a.share();
    const b = createPool(structuredClone(handle), { driver: postgresjs() });
    const c = createPool(structuredClone(handle), { driver: postgresjs() });
    pools.push(b, c);
    assert.equal(a.stats().shared!.isolates, 3);
    const held = [await b.lease("g"), await c.lease("g")];
    let third = false;
    const waiting = a.lease("g").then((h) => (third = true, h));
    await sleep(50);
    assert.equal(third, false, "a third session opened on a budget of 2");
    await held[0].release();
    held[0] = await waiting;
    consistent([a, b, c], "g");
    for (const h of held) await h.release();
    await a.end();
    // The handle outlives the pool that made it: a late joiner shares what is left.
    const d = createPool(structuredClone(handle), { driver: postgresjs() });
    pools.push(d);
    assert.equal(d.stats().shared!.isolates, 3);
    const got = await Promise.all([d.lease("g"), b.lease("g")]);
    consistent([b, c, d], "g");
    for (const h of got) await h.release();
  });

  it("pipelined groups: a lease waiting for a slot another isolate holds honours abort and timeout, then is served", async () => {
    const a = main(1, { groups: { p: { connection_count: 1, pipeline: true } } });
    const b = joined(a);
    const held = await a.lease("p");
    const ac = new AbortController();
    const reason = new Error("caller gave up");
    const aborted = b.lease("p", { signal: ac.signal });
    const timed = b.lease("p", { timeoutMs: 200 });
    await sleep(50);
    ac.abort(reason);
    await assert.rejects(aborted, (err) => err === reason);
    await assert.rejects(timed, AcquireTimeoutError);
    const served = b.lease("p", { timeoutMs: 5000 });
    await sleep(50);
    await held.release();
    const h = await served;
    assert.equal((await h.query("SELECT 3 AS n")).rows[0].n, 3);
    await h.release();
    consistent([a, b], "p");
  });

  it("a handle that lost its shared memory (JSON, another process) is a PoolShareError saying so", () => {
    const a = main(1);
    const handle = a.share();
    for (
      const lost of [
        JSON.parse(JSON.stringify(handle)),
        { ...handle, memory: new ArrayBuffer(8) },
      ]
    ) {
      assert.throws(() => createPool(lost), (err) => {
        assert.ok(err instanceof PoolShareError, String(err));
        assert.match(err.message, /SharedArrayBuffer/);
        return true;
      });
    }
  });

  it("share() refuses a pass function, as docs/threaded.md says (a Worker would log in without a password)", () => {
    const a = main(1, { db: { ...endpointOf(server), pass: () => server.password ?? "" } });
    assert.throws(() => a.share(), (err) => {
      assert.ok(err instanceof PoolShareError, String(err));
      assert.match(err.message, /db\[0\]/);
      return true;
    });
  });

  it("a password in a URL shows in no form of the handle", () => {
    const secret = "url-s3cr3t-pw";
    const url =
      `postgres://${server.user}:${secret}@${server.host}:${server.port}/${server.database}`;
    const a = main(1, { db: url });
    const handle = a.share();
    const g = globalThis as { Deno?: { inspect(v: unknown, o?: { depth: number }): string } };
    const forms = [String(handle), JSON.stringify(handle)];
    if (g.Deno) forms.push(g.Deno.inspect(handle, { depth: 10 }));
    for (const f of forms) assert.ok(!f.includes(secret), f);
    const copy = joined(a);
    assert.ok(!JSON.stringify(copy.stats()).includes(secret));
  });

  describe("across real Workers", () => {
    const fixture = new URL("./fixtures/attack_threaded_worker.ts", import.meta.url).href;

    /** One request at a time to a Worker running the fixture. */
    function spawn() {
      const worker = new Worker(fixture, { type: "module" });
      const replies: ((r: Record<string, unknown>) => void)[] = [];
      worker.onmessage = (e) => replies.shift()?.(e.data);
      worker.onerror = (e) => {
        e.preventDefault?.();
        replies.shift()?.({ ok: false, error: String(e.message) });
      };
      return {
        worker,
        async ask(message: Record<string, unknown>): Promise<Record<string, unknown>> {
          const reply = new Promise<Record<string, unknown>>((r) => replies.push(r));
          worker.postMessage(message);
          const r = await reply;
          assert.ok(r.ok, String(r.error ?? "the Worker failed"));
          return r;
        },
      };
    }

    it("abort and timeout win in a Worker waiting for the main isolate's slots; end() there fails its waiters; the main pool's end leaves the Worker working", async () => {
      const a = main(2);
      const w = spawn();
      try {
        await w.ask({ cmd: "start", handle: a.share() });
        const held = [await a.lease("g"), await a.lease("g")];
        const c = await w.ask({ cmd: "contend" });
        assert.equal(c.waiting, 1, "the Worker was not in line");
        assert.equal(c.abortWon, true, "the abort did not win");
        assert.match(String(c.timed), /AcquireTimeoutError/);
        assert.equal(c.own, 0, "the Worker holds a slot");
        await held[0].release();
        assert.equal((await w.ask({ cmd: "served" })).n, 1);
        assert.ok(a.stats().shared!.groups.g.total <= 2);
        held[0] = await a.lease("g");
        // The Worker ends its pool while three of its callers wait.
        const e = await w.ask({ cmd: "endWhileWaiting" });
        assert.deepEqual(
          (e.outcomes as string[]).map((o) => o.split(":")[0]),
          ["PoolClosedError", "PoolClosedError", "PoolClosedError"],
        );
        await until("the Worker's row freed", () => a.stats().shared!.isolates === 1);
        assert.equal(a.stats().shared!.groups.g.isolatesWaiting, 0);
        for (const h of held) await h.release();
        consistent([a], "g");
      } finally {
        w.worker.terminate();
      }
      // The main pool ends while a second Worker holds a lease.
      const b = main(2);
      const w2 = spawn();
      try {
        await w2.ask({ cmd: "start", handle: b.share() });
        await w2.ask({ cmd: "hold" });
        await b.end();
        const q = await w2.ask({ cmd: "queryHeld" });
        assert.deepEqual([q.n, q.again], [2, 3]);
        const shared = q.stats as {
          isolates: number;
          groups: { g: { total: number; own: number } };
        };
        assert.equal(shared.isolates, 1);
        assert.equal(shared.groups.g.total, shared.groups.g.own);
      } finally {
        w2.worker.terminate();
      }
    });
  });
});
