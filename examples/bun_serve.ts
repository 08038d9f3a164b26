/**
 * A JSON API on `Bun.serve` over one pool (the app itself is in
 * `notes_api.ts`): reads through the group `reads`, writes in one transaction
 * each through the group `writes`. A handler that throws answers 500 and its
 * transaction is rolled back. SIGINT or SIGTERM ends the pool (leased handlers
 * get `endTimeoutMs` to finish), then the server, then the process with code 0.
 *
 * Run: `DATABASE_URL=postgres://user:pass@127.0.0.1:5432/app PORT=8000 bun examples/bun_serve.ts`
 * (`PORT=0`: a free port, printed on stdout). On Bun the pool's default
 * driver is Bun's built-in `Bun.SQL`: nothing to install.
 *
 * ```sh
 * curl -X POST localhost:8000/notes -d '{"text":"hello"}'   # 201 {"id":1,"text":"hello"}
 * curl localhost:8000/notes/1                                # 200 {"id":1,"text":"hello"}
 * curl localhost:8000/notes                                  # 200 [{"id":1,"text":"hello"}]
 * curl -X POST 'localhost:8000/notes?fail=1' -d '{"text":"x"}' # 500, nothing stored
 * ```
 *
 * @module
 */
import { createPool } from "../mod.ts";
import {
  createNote,
  createNotesTable,
  errorResponse,
  getNote,
  json,
  listNotes,
  notesConfig,
  parseId,
  readNoteText,
} from "./notes_api.ts";

// What this file uses of Bun's global, typed here so that `deno check` reads
// the file too (with @types/bun installed, `Bun.serve` is typed already).
type Handler = (request: Request & { params: Record<string, string> }) => Promise<Response>;
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    routes: Record<string, Record<string, Handler>>;
    fetch(request: Request): Response;
    error(err: unknown): Response;
  }): { port: number; stop(): Promise<void> };
};

const pool = createPool(notesConfig(process.env.DATABASE_URL));
await createNotesTable(pool);

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 8000),
  routes: {
    "/notes": {
      GET: async () => json(await listNotes(pool)),
      POST: async (request) => {
        const text = await readNoteText(request);
        if (text === undefined) return json({ error: 'expected a JSON body {"text": "..."}' }, 400);
        const fail = new URL(request.url).searchParams.has("fail");
        return json(await createNote(pool, text, fail), 201);
      },
    },
    "/notes/:id": {
      GET: async (request) => {
        const id = parseId(request.params.id);
        const note = id === undefined ? undefined : await getNote(pool, id);
        return note ? json(note) : json({ error: "no such note" }, 404);
      },
    },
  },
  fetch: () => json({ error: "not found" }, 404),
  // A handler that threw: its transaction was rolled back already.
  error: errorResponse,
});
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
