/**
 * The `groups` key: each group by name, turned into a frozen
 * {@linkcode GroupConfig}, in a record with a `null` prototype.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { GroupConfig, TargetSessionAttrs } from "./group_types.ts";
import { DEFAULTS } from "./defaults.ts";
import { fail, isRecord, pick, rejectUnknownKeys, render } from "./fields.ts";
import { integer } from "./validators.ts";
import { endpointBinding, retryCount, targetSessionAttrs } from "./targets.ts";
import { resetField } from "./reset.ts";
import { type PoolDefaults, PYTHON_GROUP_KEYS, sessionKeys } from "./session_keys.ts";

const GROUP_KEYS = [
  "connection_count",
  "connectionCount",
  "autocommit",
  "reset",
  "pipeline",
  "endpoints",
  "target_session_attrs",
  "targetSessionAttrs",
  "retry",
  "max_waiting",
  "maxWaiting",
  ...PYTHON_GROUP_KEYS,
] as const;

/** What the `db` key decides for the groups. */
export interface GroupContext {
  /** The endpoint ids, in order. */
  readonly endpointIds: readonly string[];
  /** The default `target_session_attrs` (a URL's `?target_session_attrs=`). */
  readonly targetSessionAttrs: TargetSessionAttrs;
  /** The pool's `on_connect` and `paramstyle`, the groups' defaults. */
  readonly defaults?: PoolDefaults;
}

/**
 * Normalises the `groups` key. A group name that is not an identifier is
 * quoted in paths (`groups["read only"]`).
 *
 * @param groups The `groups` key as the user wrote it.
 * @param context The endpoint ids (for `endpoints`) and the default `target_session_attrs`.
 * @returns The groups by name, frozen, in a record with a `null` prototype, so
 *   that `groups[name]` finds configured groups only, never `"toString"`.
 * @throws {ConfigError} When `groups` is missing or empty, or a group is invalid.
 */
export function groupsOf(
  groups: unknown,
  context: GroupContext,
): Readonly<Record<string, GroupConfig>> {
  const example = "e.g. { default: { connection_count: 10 } }";
  if (groups === undefined) {
    throw new ConfigError("groups", `is required: expected groups by name, ${example}`);
  }
  if (!isRecord(groups)) {
    throw new ConfigError("groups", `expected groups by name, ${example}, got ${render(groups)}`);
  }
  const names = Object.keys(groups);
  if (names.length === 0) {
    throw new ConfigError("groups", `expected at least one group, ${example}, got an empty object`);
  }
  // A null prototype: `groups[name]` finds configured groups only, never "toString".
  const out: Record<string, GroupConfig> = Object.create(null);
  for (const name of names) {
    const at = groupPath(name);
    if (name === "") throw new ConfigError(at, "expected a non-empty group name");
    const group = groups[name];
    if (!isRecord(group)) {
      throw new ConfigError(at, `expected an object with connection_count, got ${render(group)}`);
    }
    rejectUnknownKeys(group, at, GROUP_KEYS);
    const count = pick(group, at, ["connection_count", "connectionCount"]);
    if (!count) {
      throw new ConfigError(`${at}.connection_count`, "is required: expected an integer ≥ 1");
    }
    const autocommit = pick(group, at, ["autocommit"]);
    if (autocommit && typeof autocommit.value !== "boolean") fail(autocommit, "true or false");
    const reset = pick(group, at, ["reset"]);
    const pipeline = pick(group, at, ["pipeline"]);
    if (pipeline && typeof pipeline.value !== "boolean") fail(pipeline, "true or false");
    if (pipeline?.value === true && autocommit?.value === false) {
      throw new ConfigError(
        `${at}.pipeline`,
        "a pipelined group shares its sessions, so it cannot run transactions: expected autocommit true (or no pipeline)",
      );
    }
    const bound = pick(group, at, ["endpoints"]);
    const target = pick(group, at, ["target_session_attrs", "targetSessionAttrs"]);
    const retry = pick(group, at, ["retry"]);
    const waiting = pick(group, at, ["max_waiting", "maxWaiting"]);
    const retries = retry ? retryCount(retry, autocommit?.value === false) : DEFAULTS.retry;
    out[name] = Object.freeze({
      connectionCount: integer(count, 1, Number.MAX_SAFE_INTEGER),
      autocommit: autocommit ? autocommit.value as boolean : DEFAULTS.autocommit,
      reset: reset ? resetField(reset) : DEFAULTS.reset,
      pipeline: pipeline ? pipeline.value as boolean : DEFAULTS.pipeline,
      endpoints: bound ? endpointBinding(bound, context.endpointIds) : undefined,
      targetSessionAttrs: target ? targetSessionAttrs(target) : context.targetSessionAttrs,
      retry: retries,
      maxWaiting: waiting?.value === Infinity
        ? Infinity
        : waiting
        ? integer(waiting, 0, Number.MAX_SAFE_INTEGER)
        : DEFAULTS.maxWaiting,
      ...sessionKeys(group, at, context.defaults),
    });
  }
  return Object.freeze(out);
}

function groupPath(name: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(name) ? `groups.${name}` : `groups[${JSON.stringify(name)}]`;
}
