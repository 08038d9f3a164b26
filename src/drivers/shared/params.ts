/**
 * Query parameters checked before anything is sent: a value no driver can
 * send as what it is (a circular object, a `toJSON` that throws, a symbol, a
 * function) fails the same way on every adapter, instead of going out as
 * `"[object Object]"` on one and failing on another.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { QueryError } from "../../errors.ts";
import { copyRefusal } from "./copy_check.ts";
import { refusedQuery } from "./server_error.ts";

/**
 * Throws a `TypeError` naming the first parameter that cannot be sent.
 * Scalars, `null`, `undefined`, dates and byte arrays pass untouched; arrays
 * are checked element by element; other objects must serialise as JSON.
 * Costs nothing for scalar parameters.
 *
 * @param params The query's parameters.
 * @throws {TypeError} For a symbol, a function, or an object `JSON.stringify` refuses.
 */
export function checkParams(params: readonly unknown[]): void {
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    const t = typeof v;
    if (t === "object" ? v !== null : t === "symbol" || t === "function") check(v, i + 1);
  }
}

function check(v: unknown, n: number): void {
  const t = typeof v;
  if (t === "symbol" || t === "function") {
    throw new TypeError(`Cannot send parameter $${n}: a ${t} has no SQL value`);
  }
  if (t !== "object" || v === null || v instanceof Date || ArrayBuffer.isView(v)) return;
  if (Array.isArray(v)) {
    for (const item of v) check(item, n);
    return;
  }
  try {
    JSON.stringify(v);
  } catch (err) {
    throw new TypeError(
      `Cannot send parameter $${n}: it does not serialise as JSON: ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    );
  }
}

/**
 * What every adapter checks before it hands a query to its client: `COPY`
 * (see {@linkcode copyRefusal}) and parameters that cannot be sent.
 *
 * @param text SQL text.
 * @param params The parameters, if any.
 * @returns The {@linkcode QueryError} to reject with, or `undefined` to go on.
 */
export function refusal(
  text: string,
  params: readonly unknown[] | undefined,
): QueryError | undefined {
  if (params !== undefined && params.length > 0) {
    try {
      checkParams(params);
    } catch (err) {
      return refusedQuery(err);
    }
  }
  // Long texts are scanned once: their verdict is kept (the same text object
  // comes back, and V8 and JSC cache a string's hash, so the lookup is cheap).
  if (text.length < LONG_TEXT) return copyRefusal(text);
  let copy = copyVerdicts.get(text);
  if (copy === undefined) {
    copy = copyRefusal(text) !== undefined;
    if (copyVerdicts.size < MAX_VERDICTS) copyVerdicts.set(text, copy);
  }
  return copy ? copyRefusal(text) : undefined;
}

const LONG_TEXT = 256;
const MAX_VERDICTS = 1000;
const copyVerdicts = new Map<string, boolean>();
