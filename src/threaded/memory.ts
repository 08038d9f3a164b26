/**
 * The shared memory of a threaded pool: one `SharedArrayBuffer` that every
 * isolate (the main thread and its Workers) maps the same way. Only
 * `Atomics` touch it. Layout, in 32-bit words unless said:
 *
 * - header: a magic number, the event word isolates wait on, the sizes, the
 *   token counter, the health generation;
 * - one owner word per isolate row (0: free, -1: being reclaimed, else the
 *   owner's token);
 * - per group: the open-or-opening total, the budget (`connection_count`),
 *   the number of rows with waiting callers, and one word per row packing the
 *   owner's token (high 16 bits) with the row's slot count (low 16 bits);
 * - per endpoint: the failure count published by the isolate that saw them;
 * - 64-bit words: each row's heartbeat, per group and row the time its
 *   callers started waiting (0: none), per endpoint the time it is down until;
 * - the secret bytes: the endpoints' passwords, masked with a random pad.
 *
 * @module
 */

const MAGIC_VALUE = 0x70676462; // "pgdb"
/** Header word: the magic number. */
export const MAGIC = 0;
/** Header word: bumped and notified on every event other isolates may act on. */
export const EVENTS = 1;
const ROWS = 2;
const GROUPS = 3;
const ENDPOINTS = 4;
/** Header word: the token counter. */
export const NEXT_TOKEN = 5;
const SECRET_LEN = 6;
/** Header word: bumped when an endpoint's shared health changes. */
export const HEALTH_GEN = 7;
const HEADER = 8;
// Per group: TOTAL, BUDGET, DEMANDERS, a spare word, then one word per row.
const GROUP_HEAD = 4;

/** Most isolates that may share one pool at once. */
export const MAX_ISOLATES = 64;

/** The sizes a shared memory is built for. */
export interface MemorySizes {
  /** Each group's budget (`connection_count`), in group order. */
  budgets: readonly number[];
  /** Number of endpoints. */
  endpoints: number;
  /** Length of the secret bytes. */
  secretBytes: number;
  /** Number of isolate rows. @default {MAX_ISOLATES} */
  rows?: number;
}

/** Typed views and word offsets over one pool's shared memory. */
export class Memory {
  /** The buffer itself (what a handle carries). */
  readonly buffer: SharedArrayBuffer;
  /** 32-bit words. */
  readonly i32: Int32Array;
  /** 64-bit words (times). */
  readonly i64: BigInt64Array;
  /** Number of isolate rows. */
  readonly rows: number;
  /** Number of groups. */
  readonly groups: number;
  /** Number of endpoints. */
  readonly endpoints: number;
  readonly #groupsAt: number;
  readonly #healthAt: number;
  readonly #sinceAt: number;
  readonly #downAt: number;
  readonly #secretAt: number;

  /**
   * Maps a buffer built by {@linkcode createMemory}.
   *
   * @param buffer The shared buffer.
   * @throws {TypeError} When it is not a pool's shared memory.
   */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    const i32 = new Int32Array(buffer);
    if (i32.length < HEADER || Atomics.load(i32, MAGIC) !== MAGIC_VALUE) {
      throw new TypeError("Cannot use this SharedArrayBuffer: it is not a pool's shared memory");
    }
    this.i32 = i32;
    this.rows = i32[ROWS];
    this.groups = i32[GROUPS];
    this.endpoints = i32[ENDPOINTS];
    const l = layout(this.rows, this.groups, this.endpoints);
    this.#groupsAt = l.groupsAt;
    this.#healthAt = l.healthAt;
    this.i64 = new BigInt64Array(buffer, l.wideAt * 4, l.wideWords);
    this.#sinceAt = this.rows;
    this.#downAt = this.rows * (1 + this.groups);
    this.#secretAt = (l.wideAt + l.wideWords * 2) * 4;
  }

  /** Owner word of `row` (i32). */
  owner(row: number): number {
    return HEADER + row;
  }
  /** Open-or-opening sessions of group `g`, all isolates (i32). */
  total(g: number): number {
    return this.#groupsAt + g * (GROUP_HEAD + this.rows);
  }
  /** Budget of group `g` (i32). */
  budget(g: number): number {
    return this.total(g) + 1;
  }
  /** Rows with callers of group `g` waiting for a slot (i32). */
  demanders(g: number): number {
    return this.total(g) + 2;
  }
  /** Token and slot count of `row` in group `g` (i32). */
  slots(g: number, row: number): number {
    return this.total(g) + GROUP_HEAD + row;
  }
  /** Failure count of endpoint `e` (i32). */
  failures(e: number): number {
    return this.#healthAt + e;
  }
  /** Heartbeat time of `row` (i64). */
  beat(row: number): number {
    return row;
  }
  /** When callers of `row` started waiting in group `g`, 0: none (i64). */
  since(g: number, row: number): number {
    return this.#sinceAt + g * this.rows + row;
  }
  /** Time endpoint `e` is down until (i64). */
  downUntil(e: number): number {
    return this.#downAt + e;
  }
  /** The secret bytes: a pad, then the masked secret (read-only copy, unmasked). */
  secret(): Uint8Array {
    const n = this.i32[SECRET_LEN];
    const bytes = new Uint8Array(this.buffer, this.#secretAt, n * 2);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = bytes[i] ^ bytes[n + i];
    return out;
  }
}

/**
 * Builds a pool's shared memory: every row free, every group's budget set,
 * the secret stored masked with a fresh random pad.
 *
 * @param sizes Budgets, endpoints and rows.
 * @param secret The bytes to keep inside (the passwords).
 * @returns The mapped memory.
 */
export function createMemory(sizes: MemorySizes, secret: Uint8Array = new Uint8Array()): Memory {
  const rows = sizes.rows ?? MAX_ISOLATES;
  const groups = sizes.budgets.length;
  const l = layout(rows, groups, sizes.endpoints);
  const secretAt = (l.wideAt + l.wideWords * 2) * 4;
  // Whole 64-bit words: the typed views need a multiple of their size.
  const buffer = new SharedArrayBuffer(secretAt + ((secret.length * 2 + 7) & ~7));
  const i32 = new Int32Array(buffer);
  i32[ROWS] = rows;
  i32[GROUPS] = groups;
  i32[ENDPOINTS] = sizes.endpoints;
  i32[SECRET_LEN] = secret.length;
  const bytes = new Uint8Array(buffer, secretAt, secret.length * 2);
  const pad = bytes.subarray(0, secret.length);
  crypto.getRandomValues(pad);
  for (let i = 0; i < secret.length; i++) bytes[secret.length + i] = secret[i] ^ pad[i];
  // The magic goes last: a buffer with it is complete.
  Atomics.store(i32, MAGIC, MAGIC_VALUE);
  const memory = new Memory(buffer);
  sizes.budgets.forEach((b, g) => Atomics.store(i32, memory.budget(g), b));
  return memory;
}

function layout(rows: number, groups: number, endpoints: number) {
  const groupsAt = HEADER + rows;
  const healthAt = groupsAt + groups * (GROUP_HEAD + rows);
  // 64-bit words start on an 8-byte boundary.
  const wideAt = (healthAt + endpoints + 1) & ~1;
  const wideWords = rows + groups * rows + endpoints;
  return { groupsAt, healthAt, wideAt, wideWords };
}
