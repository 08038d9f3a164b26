/**
 * A JSON API on `Deno.serve` over one pool (the app itself is in
 * `notes_api.ts`): reads through the group `reads`, writes in one transaction
 * each through the group `writes`. A handler that throws answers 500 and its
 * transaction is rolled back. SIGINT or SIGTERM ends the pool (leased handlers
 * get `endTimeoutMs` to finish), then the server, then the process with code 0.
 *
 * Run: `DATABASE_URL=postgres://user:pass@127.0.0.1:5432/app PORT=8000 deno run -A examples/deno_serve.ts`
 * (`PORT=0`: a free port, printed on stdout).
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

const pool = createPool(notesConfig(Deno.env.get("DATABASE_URL")));
await createNotesTable(pool);

const noteById = new URLPattern({ pathname: "/notes/:id" });

async function route(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/notes" && request.method === "GET") return json(await listNotes(pool));
  if (url.pathname === "/notes" && request.method === "POST") {
    const text = await readNoteText(request);
    if (text === undefined) return json({ error: 'expected a JSON body {"text": "..."}' }, 400);
    return json(await createNote(pool, text, url.searchParams.has("fail")), 201);
  }
  const match = noteById.exec(url);
  if (match && request.method === "GET") {
    const id = parseId(match.pathname.groups.id);
    const note = id === undefined ? undefined : await getNote(pool, id);
    return note ? json(note) : json({ error: "no such note" }, 404);
  }
  return json({ error: "not found" }, 404);
}

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 8000),
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}`),
  // A handler that threw: its transaction was rolled back already.
  onError: errorResponse,
}, route);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await pool.end();
  await server.shutdown();
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
