/**
 * Notices and ParameterStatus values, the same shape from every adapter.
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */
import type { DriverNotice } from "../../driver.ts";

/** A driver's notice object, as postgres.js, node-postgres and deno-postgres expose it. */
export interface RawNotice {
  /** Non-localised severity (`V`), when the driver keeps it apart. */
  severity?: unknown;
  /** Localised severity (`S`). */
  severity_local?: unknown;
  /** SQLSTATE. */
  code?: unknown;
  /** Primary message. */
  message?: unknown;
  /** DETAIL. */
  detail?: unknown;
  /** HINT. */
  hint?: unknown;
}

/**
 * Builds the callback an adapter hands its client: turns each notice into a
 * {@linkcode DriverNotice} and passes it on; a throwing `onNotice` is ignored,
 * because it runs inside the client's socket handler, where a throw would
 * escape as an uncaught exception.
 *
 * @param onNotice The pool's callback, if any.
 * @returns The client's callback (a no-op without `onNotice`, so no client prints notices).
 */
export function noticeForwarder(
  onNotice: ((notice: DriverNotice) => void) | undefined,
): (raw: unknown) => void {
  if (onNotice === undefined) return ignore;
  return (raw) => {
    const n = (raw ?? {}) as RawNotice;
    const notice: DriverNotice = {
      severity: text(n.severity) ?? text(n.severity_local) ?? "NOTICE",
      code: text(n.code) ?? "",
      message: text(n.message) ?? "",
      detail: text(n.detail),
      hint: text(n.hint),
    };
    try {
      onNotice(notice);
    } catch {
      // The pool's listener failed; the session must not.
    }
  };
}

function text(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function ignore(): undefined {
  return undefined;
}

/** What a driver without access to ParameterStatus reports: nothing. */
export const NO_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({});
