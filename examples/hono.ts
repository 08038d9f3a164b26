/**
 * A JSON API on [Hono](https://hono.dev) over one pool, the same program on
 * Deno (`Deno.serve`) and Bun (`Bun.serve`); the app itself is in
 * `notes_api.ts`. Reads go through the group `reads`, writes in one
 * transaction each through the group `writes`. A handler that throws answers
 * 500 (Hono's `onError`) and its transaction is rolled back. SIGINT or SIGTERM
 * ends the pool (leased handlers get `endTimeoutMs` to finish), then the
 * server, then the process with code 0.
 *
 * Run (`npm install hono`, or `deno add npm:hono`):
 *
 * ```sh
 * DATABASE_URL=postgres://user:pass@127.0.0.1:5432/app PORT=8000 deno run -A examples/hono.ts
 * DATABASE_URL=postgres://user:pass@127.0.0.1:5432/app PORT=8000 bun examples/hono.ts
 * ```
 *
 * (`PORT=0`: a free port, printed on stdout.)
 *
 * @module
 */
import process from "node:process";
import { Hono } from "hono";
import { createPool } from "../mod.ts";
import {
  createNote,
  createNotesTable,
  errorResponse,
  getNote,
  listNotes,
  notesConfig,
  parseId,
  readNoteText,
} from "./notes_api.ts";

const pool = createPool(notesConfig(process.env.DATABASE_URL));
await createNotesTable(pool);

const app = new Hono();
app.get("/notes", async (c) => c.json(await listNotes(pool)));
app.get("/notes/:id", async (c) => {
  const id = parseId(c.req.param("id"));
  const note = id === undefined ? undefined : await getNote(pool, id);
  return note ? c.json(note) : c.json({ error: "no such note" }, 404);
});
app.post("/notes", async (c) => {
  const text = await readNoteText(c.req.raw);
  if (text === undefined) return c.json({ error: 'expected a JSON body {"text": "..."}' }, 400);
  return c.json(await createNote(pool, text, c.req.query("fail") !== undefined), 201);
});
app.notFound((c) => c.json({ error: "not found" }, 404));
// A handler that threw: its transaction was rolled back already.
app.onError((err) => errorResponse(err));

const server = serve(app.fetch, Number(process.env.PORT ?? 8000));
console.log(`listening on http://127.0.0.1:${server.port}`);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await pool.end();
  await server.stop();
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

/** The runtime's own HTTP server, on 127.0.0.1: its port, and a way to stop it. */
function serve(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
): { port: number; stop(): Promise<void> } {
  const { Deno, Bun } = globalThis as unknown as RuntimeServers;
  if (Deno) {
    const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, fetch);
    return { port: server.addr.port, stop: () => server.shutdown() };
  }
  if (Bun) {
    const server = Bun.serve({ hostname: "127.0.0.1", port, fetch });
    return { port: server.port, stop: () => server.stop() };
  }
  throw new Error("this example runs on Deno or Bun");
}

/** The two runtimes' serve functions, typed by what this file uses. */
interface RuntimeServers {
  Deno?: {
    serve(
      options: { hostname: string; port: number; onListen(): void },
      handler: (request: Request) => Response | Promise<Response>,
    ): { addr: { port: number }; shutdown(): Promise<void> };
  };
  Bun?: {
    serve(options: {
      hostname: string;
      port: number;
      fetch: (request: Request) => Response | Promise<Response>;
    }): { port: number; stop(): Promise<void> };
  };
}
