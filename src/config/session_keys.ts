/**
 * The keys that shape a group's sessions and queries for code ported from
 * the Python module, and for everyone's session setup: `sqlprepare` (groups),
 * `on_connect` / `onConnect` and `paramstyle` (pool-wide defaults, which a
 * group may replace).
 *
 * @module
 */
import type { OnConnect } from "../groups/on_connect.ts";
import type { ParamStyle } from "../python/pyformat.ts";
import { fail, type Field, pick } from "./fields.ts";
import { oneOf, refuseNul } from "./validators.ts";
import { ConfigError } from "../errors.ts";
import type { EndpointConfig } from "./endpoint_types.ts";
import type { GroupConfig } from "./group_types.ts";
import { tokenize, TokenKind } from "../sql/tokenizer.ts";

/** An endpoint's `pool_mode`: `"transaction"` for PgBouncer's transaction pooling. */
export const POOL_MODES: readonly ("session" | "transaction")[] = ["session", "transaction"];

/** The group keys read here. */
export const PYTHON_GROUP_KEYS = ["sqlprepare", "on_connect", "onConnect", "paramstyle"] as const;

/** The top-level keys read here. */
export const PYTHON_TOP_KEYS = ["on_connect", "onConnect", "paramstyle"] as const;

/** The pool-wide values, defaults of every group. */
export interface PoolDefaults {
  /** The pool's `on_connect`. */
  readonly onConnect: OnConnect | undefined;
  /** The pool's `paramstyle`. */
  readonly paramstyle: ParamStyle;
}

const STYLES: readonly ParamStyle[] = ["numeric", "pyformat"];

/**
 * Reads the pool-wide `on_connect` and `paramstyle`.
 *
 * @param input The config as the user wrote it.
 * @returns The values, defaulted.
 * @throws {ConfigError} When one is invalid.
 */
export function poolDefaults(input: Record<string, unknown>): PoolDefaults {
  const style = pick(input, "", ["paramstyle"]);
  return {
    onConnect: onConnectOf(pick(input, "", ["on_connect", "onConnect"])),
    paramstyle: style ? oneOf(style, STYLES) : "numeric",
  };
}

/**
 * Reads a group's `sqlprepare`, `on_connect` and `paramstyle`.
 *
 * @param group The group as the user wrote it.
 * @param at Its dotted path.
 * @param defaults The pool's values.
 * @returns The group's values, defaulted.
 * @throws {ConfigError} When one is invalid.
 */
export function sessionKeys(
  group: Record<string, unknown>,
  at: string,
  defaults: PoolDefaults | undefined,
): { sqlprepare: boolean; onConnect: OnConnect | undefined; paramstyle: ParamStyle } {
  const prepare = pick(group, at, ["sqlprepare"]);
  if (prepare && typeof prepare.value !== "boolean") fail(prepare, "true or false");
  const hook = pick(group, at, ["on_connect", "onConnect"]);
  const style = pick(group, at, ["paramstyle"]);
  return {
    sqlprepare: prepare ? prepare.value as boolean : false,
    onConnect: hook ? onConnectOf(hook) : defaults?.onConnect,
    paramstyle: style ? oneOf(style, STYLES) : defaults?.paramstyle ?? "numeric",
  };
}

function onConnectOf(f: Field | undefined): OnConnect | undefined {
  if (f === undefined) return undefined;
  const v = f.value;
  // A NUL would cut the text every new session is sent.
  if (typeof v === "string") refuseNul(f, v);
  if (typeof v === "function" || (typeof v === "string" && v.trim() !== "")) return v as OnConnect;
  fail(f, "SQL text or a function (session) => Promise<void>");
}

/**
 * Refuses `sqlprepare` in a group that may use a transaction-mode pooler: the
 * statements `PrepareQueries()` prepares stay on one server session, and such
 * a pooler hands each transaction another one. Refuses it too with a `reset`
 * that drops every prepared statement (`DISCARD ALL`, `DEALLOCATE ALL`): the
 * next lease would find none of them.
 *
 * @param groups The normalised groups.
 * @param endpoints The normalised endpoints.
 * @throws {ConfigError} Naming the group and the endpoint.
 */
export function checkSqlprepareEndpoints(
  groups: Readonly<Record<string, GroupConfig>>,
  endpoints: readonly EndpointConfig[],
): void {
  for (const [name, group] of Object.entries(groups)) {
    if (!group.sqlprepare) continue;
    if (dropsAllStatements(group.reset)) {
      throw new ConfigError(
        `groups.${name}.reset`,
        `drops every prepared statement on release, and the group has sqlprepare: its statements are prepared once per session, so the next lease would find none; use reset "auto" (it keeps them) or SQL without DISCARD ALL / DEALLOCATE ALL`,
      );
    }
    const pooled = endpoints.find((e) =>
      e.poolMode === "transaction" && (group.endpoints?.includes(e.id) ?? true)
    );
    if (pooled === undefined) continue;
    throw new ConfigError(
      `groups.${name}.sqlprepare`,
      `cannot work through endpoint "${pooled.id}" (pool_mode "transaction"): the statements it prepares stay on one server session, and the pooler hands each transaction another; bind the group to endpoints in session mode (groups.${name}.endpoints), or use PgBouncer's pool_mode = session there`,
    );
  }
}

// `DISCARD ALL` or `DEALLOCATE [PREPARE] ALL` as a statement of the text (not in a literal).
function dropsAllStatements(sql: string): boolean {
  const words = tokenize(sql).tokens.map((t) => t.kind === TokenKind.Word ? t.value : "");
  return words.some((w, i) =>
    (w === "discard" && words[i + 1] === "all") ||
    (w === "deallocate" && (words[i + 1] === "all" ||
      (words[i + 1] === "prepare" && words[i + 2] === "all")))
  );
}
