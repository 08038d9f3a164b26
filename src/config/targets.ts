/**
 * The group keys of the endpoint balancer: `groups.<g>.endpoints` (ids of
 * `db` entries), `target_session_attrs` (libpq's values) and `retry`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Field } from "./fields.ts";
import { fail, render } from "./fields.ts";
import { integer, oneOf } from "./validators.ts";
import type { TargetSessionAttrs } from "./group_types.ts";

/**
 * libpq's `target_session_attrs` values, in libpq's order.
 */
export const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = Object.freeze([
  "any",
  "read-write",
  "read-only",
  "primary",
  "standby",
  "prefer-standby",
]);

/**
 * Validates a `target_session_attrs` value (from a group or a URL).
 *
 * @param f The field to check.
 * @returns The value.
 * @throws {ConfigError} When it is not one of {@linkcode TARGET_SESSION_ATTRS}, naming the key.
 */
export function targetSessionAttrs(f: Field): TargetSessionAttrs {
  return oneOf(f, TARGET_SESSION_ATTRS);
}

/**
 * Validates `groups.<g>.endpoints`: a non-empty list of known endpoint ids,
 * each once. The result keeps the pool's endpoint order.
 *
 * @param f The field to check.
 * @param ids The ids of the pool's endpoints, in order.
 * @returns The ids, frozen, in the pool's order.
 * @throws {ConfigError} When the value is not a non-empty list of strings
 *   (path: the key), or an id is unknown or repeated (path: `groups.<g>.endpoints[i]`).
 */
export function endpointBinding(f: Field, ids: readonly string[]): readonly string[] {
  const list = f.value;
  if (!Array.isArray(list) || list.length === 0) {
    fail(f, "a non-empty list of endpoint ids");
  }
  const known = ids.map((id) => JSON.stringify(id)).join(", ");
  list.forEach((id: unknown, i) => {
    const path = `${f.path}[${i}]`;
    if (typeof id !== "string" || !ids.includes(id)) {
      throw new ConfigError(
        path,
        `expected the id of an endpoint of "db" (${known}), got ${render(id)}`,
      );
    }
    if (list.indexOf(id) !== i) {
      throw new ConfigError(path, `expected each endpoint id once, got ${render(id)} again`);
    }
  });
  return Object.freeze(ids.filter((id) => list.includes(id)));
}

/**
 * Validates `groups.<g>.retry`: how many times `fn` may run again after a
 * serialization failure, a deadlock, or a session lost before `fn` got an
 * answer. Only a transactional group (`autocommit: false`) can retry: its
 * work is one transaction that the server rolled back.
 *
 * @param f The field to check.
 * @param transactional Whether the group has `autocommit: false`.
 * @returns The count.
 * @throws {ConfigError} When it is not an integer 0..100, or the group is not transactional.
 */
export function retryCount(f: Field, transactional: boolean): number {
  const n = integer(f, 0, 100);
  if (n > 0 && !transactional) {
    throw new ConfigError(
      f.path,
      `retries a transaction that the server rolled back: expected autocommit false in this group, or retry 0; got ${f.got}`,
    );
  }
  return n;
}
