/**
 * An in-memory driver written only against the documented driver contract
 * (src/driver.ts): scriptable endpoints and sessions for unit tests of the core.
 */
import { QueryError } from "../../mod.ts";
import type { ConnectParams, Driver, DriverConnection, DriverResult } from "../../mod.ts";

/** How a fake session answers one query; throw to fail it. */
export type Responder = (
  text: string,
  params: readonly unknown[] | undefined,
  session: FakeSession,
) => DriverResult | Promise<DriverResult>;

export class FakeSession implements DriverConnection {
  static #nextPid = 100;
  readonly pid = FakeSession.#nextPid++;
  readonly endpoint: string;
  readonly params: ConnectParams;
  readonly log: string[] = [];
  /** ParameterStatus values, as a server reports them; tests may change them. */
  parameters: Record<string, string> = {};
  #closed = false;
  #driver: FakeDriver;
  // Rejects every query in flight when the session ends, as real drivers do on close().
  #ended!: (err: Error) => void;
  readonly #end = new Promise<never>((_, reject) => (this.#ended = reject));
  /** Server-side transaction state, as PostgreSQL keeps it. */
  tx: "idle" | "open" | "failed" = "idle";

  constructor(driver: FakeDriver, params: ConnectParams) {
    this.#driver = driver;
    this.params = params;
    this.endpoint = `${params.host}:${params.port}`;
    this.#end.catch(() => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The server drops this session (like pg_terminate_backend). */
  kill(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#driver.open.delete(this);
    this.#ended(Object.assign(new Error("connection closed"), { code: "CLOSED" }));
  }

  async query(text: string, params?: readonly unknown[]): Promise<DriverResult> {
    if (this.#closed) throw Object.assign(new Error("connection closed"), { code: "CLOSED" });
    this.log.push(text);
    this.#driver.queries.push({ session: this, text });
    const result = await Promise.race([this.#driver.respond(text, params, this), this.#end]);
    if (this.#closed) throw Object.assign(new Error("connection closed"), { code: "CLOSED" });
    return result;
  }

  close(): Promise<void> {
    this.kill();
    return Promise.resolve();
  }
}

function ok(command: string, rows: Record<string, unknown>[] = []): DriverResult {
  return { rows, rowCount: rows.length, command };
}

/** Answers like a PostgreSQL server for the statements the pool itself sends. */
export function defaultResponder(
  text: string,
  params: readonly unknown[] | undefined,
  s: FakeSession,
): DriverResult {
  const verb = text.trim().split(/\s+/)[0].toUpperCase();
  if (s.tx === "failed" && verb !== "ROLLBACK" && verb !== "COMMIT") {
    throw new QueryError("current transaction is aborted", { code: "25P02" });
  }
  switch (verb) {
    case "BEGIN":
      s.tx = "open";
      return ok("BEGIN");
    case "COMMIT": {
      const failed = s.tx === "failed";
      s.tx = "idle";
      return ok(failed ? "ROLLBACK" : "COMMIT");
    }
    case "ROLLBACK":
      s.tx = "idle";
      return ok("ROLLBACK");
    case "FAIL":
      if (s.tx === "open") s.tx = "failed";
      throw new QueryError('syntax error at or near "FAIL"', { code: "42601", position: 1 });
    case "KILL":
      s.kill();
      throw Object.assign(new Error("connection terminated"), { code: "57P01" });
    case "INSERT":
      return ok("INSERT");
    default:
      return ok("SELECT", [{ value: params?.[0] ?? 1, pid: s.pid, endpoint: s.endpoint }]);
  }
}

export class FakeDriver implements Driver {
  readonly name = "fake";
  readonly open = new Set<FakeSession>();
  readonly sessions: FakeSession[] = [];
  readonly queries: { session: FakeSession; text: string }[] = [];
  readonly connectAttempts: string[] = [];
  /** Endpoints (`host:port`) that refuse connections. */
  readonly down = new Set<string>();
  /** Endpoints whose connects never finish until released. */
  readonly hanging = new Map<string, (() => void)[]>();
  respond: Responder = defaultResponder;
  maxOpen = 0;

  async connect(params: ConnectParams): Promise<DriverConnection> {
    const endpoint = `${params.host}:${params.port}`;
    this.connectAttempts.push(endpoint);
    const hang = this.hanging.get(endpoint);
    if (hang) await new Promise<void>((resolve) => hang.push(resolve));
    else await Promise.resolve();
    if (this.down.has(endpoint)) {
      throw Object.assign(new Error(`connect ECONNREFUSED ${endpoint}`), { code: "ECONNREFUSED" });
    }
    const session = new FakeSession(this, params);
    this.sessions.push(session);
    this.open.add(session);
    this.maxOpen = Math.max(this.maxOpen, this.open.size);
    return session;
  }
}
