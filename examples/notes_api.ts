/**
 * The app behind the HTTP examples (`deno_serve.ts`, `bun_serve.ts`,
 * `hono.ts`): a table of notes, the pool's config, and one function per
 * endpoint of the JSON API. Each server example adds only its routing, its
 * error answer and its shutdown.
 *
 * - `GET /notes` and `GET /notes/:id` read through the group `reads` (autocommit);
 * - `POST /notes` writes through the group `writes` (`autocommit: false`): each
 *   request is one transaction, committed when the handler returns and rolled
 *   back when it throws. `POST /notes?fail=1` inserts the note, then throws:
 *   the server answers 500 and the note is not in the table.
 *
 * @module
 */
import { type Handler, type Pool, PoolClosedError, type PoolConfigInput } from "../mod.ts";

/** A row of the table `notes`. */
export interface Note {
  id: number;
  text: string;
}

/**
 * The pool's config: the server from `DATABASE_URL` (a `postgres://` URL; add
 * `?application_name=...` to name the sessions), a group for reads and a
 * transactional group for writes.
 */
export function notesConfig(databaseUrl: string | undefined): PoolConfigInput {
  if (!databaseUrl) throw new Error("Set DATABASE_URL, e.g. postgres://user:pass@127.0.0.1/app");
  return {
    db: databaseUrl,
    groups: {
      reads: { connection_count: 4 },
      writes: { connection_count: 2, autocommit: false },
    },
  };
}

/** Creates the table on first start. */
export async function createNotesTable(pool: Pool): Promise<void> {
  await pool.withHandler("writes", async (db) => {
    await db.query("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, text text NOT NULL)");
  });
}

/** `GET /notes`: every note, oldest first. */
export function listNotes(pool: Pool): Promise<Note[]> {
  return pool.withHandler("reads", async (db) => {
    const { rows } = await db.query<Note>("SELECT id, text FROM notes ORDER BY id");
    return rows;
  });
}

/** `GET /notes/:id`: one note, or `undefined`. */
export function getNote(pool: Pool, id: number): Promise<Note | undefined> {
  return pool.withHandler("reads", async (db) => {
    const { rows } = await db.query<Note>("SELECT id, text FROM notes WHERE id = $1", [id]);
    return rows[0];
  });
}

/**
 * `POST /notes`: inserts the note in one transaction. With `failAfterInsert`
 * the handler throws after the insert, as a bug would: the pool rolls the
 * transaction back and the error reaches the caller.
 */
export function createNote(pool: Pool, text: string, failAfterInsert = false): Promise<Note> {
  return pool.withHandler("writes", async (db: Handler) => {
    const { rows } = await db.query<Note>(
      "INSERT INTO notes (text) VALUES ($1) RETURNING id, text",
      [text],
    );
    if (failAfterInsert) throw new Error(`failing on purpose after inserting note ${rows[0].id}`);
    return rows[0];
  });
}

/** A request's JSON body as `{ text }`, or `undefined` when it is not one. */
export async function readNoteText(request: Request): Promise<string | undefined> {
  const body: unknown = await request.json().catch(() => undefined);
  const text = (body as { text?: unknown } | null)?.text;
  return typeof text === "string" && text !== "" ? text : undefined;
}

/** The path's `:id` as a positive integer, or `undefined`. */
export function parseId(raw: string | undefined): number | undefined {
  const id = Number(raw);
  return Number.isSafeInteger(id) && id > 0 && id <= 2 ** 31 - 1 ? id : undefined;
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

/**
 * The answer to a request whose handler threw: 503 once the pool is ending
 * (the server is shutting down), else 500. The error's text stays in the log.
 */
export function errorResponse(err: unknown): Response {
  if (err instanceof PoolClosedError) return json({ error: "shutting down" }, 503);
  console.error("request failed:", err instanceof Error ? err.message : err);
  return json({ error: "internal error" }, 500);
}
