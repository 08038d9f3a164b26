/**
 * Turns user input (the Python module's seed-style keys, camelCase aliases,
 * connection URLs) into one frozen, fully-defaulted {@linkcode PoolConfig}.
 * Units of the Python keys (`connect_timeout` in seconds, `session_tmp_buffer`
 * in MB) are translated here and nowhere else.
 *
 * This is the entry point: the other modules import the config's types,
 * {@linkcode DEFAULTS}, {@linkcode describeEndpoint} and {@linkcode redactUrl}
 * from here. The work is shared by `endpoints.ts` (the `db` key, with
 * `url.ts` for URLs), `groups.ts` (the `groups` key), `fields.ts` and
 * `validators.ts` (reading and checking one key), and `../redact.ts` (what
 * messages may show).
 *
 * @module
 */
import type { Driver } from "../driver.ts";
import { ConfigError } from "../errors.ts";
import type { EndpointConfig } from "./endpoint_types.ts";
import type { PoolConfig } from "./types.ts";
import { DEFAULTS } from "./defaults.ts";
import { fail, type Field, isRecord, pick, rejectUnknownKeys, render } from "./fields.ts";
import { duration, oneOf } from "./validators.ts";
import { endpointsOf } from "./endpoints.ts";
import { groupsOf } from "./groups.ts";
import { targetSessionAttrs } from "./targets.ts";
import type { PassFunction } from "./pass_function.ts";
import { checkSqlprepareEndpoints, poolDefaults, PYTHON_TOP_KEYS } from "./session_keys.ts";

export type { EndpointConfig, EndpointInput } from "./endpoint_types.ts";
export type { GroupConfig, GroupInput, TargetSessionAttrs } from "./group_types.ts";
export type { PoolConfig, PoolConfigInput } from "./types.ts";
export { DEFAULTS } from "./defaults.ts";
export { describeEndpoint, redactUrl } from "../redact.ts";

/** Top-level durations: camelCase name, seed-style alias, and whether 0 is allowed. */
const DURATIONS = [
  ["acquireTimeoutMs", "acquire_timeout_ms", false],
  ["pingAfterIdleMs", "ping_after_idle_ms", true],
  ["pingTimeoutMs", "ping_timeout_ms", false],
  ["idleTimeoutMs", "idle_timeout_ms", true],
  ["maxLifetimeMs", "max_lifetime_ms", true],
  ["endTimeoutMs", "end_timeout_ms", true],
  ["reconnectBaseMs", "reconnect_base_ms", true],
  ["reconnectMaxMs", "reconnect_max_ms", true],
  ["leakDetectionMs", "leak_detection_ms", true],
  ["listenPingIntervalMs", "listen_ping_interval_ms", false],
  ["listenPingTimeoutMs", "listen_ping_timeout_ms", false],
] as const;
type DurationKey = (typeof DURATIONS)[number][0];

const TOP_KEYS: readonly string[] = [
  "type",
  "db",
  "groups",
  "driver",
  "allowExitOnIdle",
  ...PYTHON_TOP_KEYS,
  ...DURATIONS.flatMap(([camel, seed]) => [camel, seed]),
];

const PASSWORDS = new WeakMap<EndpointConfig, string>();
const PASS_FUNCTIONS = new WeakMap<EndpointConfig, PassFunction>();

/**
 * Turns user input into a frozen, fully-defaulted {@linkcode PoolConfig}:
 * seed-style keys and camelCase aliases, one endpoint, a list, or `postgres://`
 * URLs (multi-host too); units translated to milliseconds and megabytes;
 * defaults from {@linkcode DEFAULTS}. Passwords are kept apart (see
 * {@linkcode passwordOf}). Pure: the input is neither changed nor kept.
 *
 * @param input The configuration as the user wrote it ({@linkcode PoolConfigInput}).
 * @returns The normalised configuration, deeply frozen (except the driver, the caller's object).
 * @throws {ConfigError} When a key is unknown, missing or invalid; `path` names it
 *   and the message quotes the value received, with passwords masked.
 */
export function normalizeConfig(input: unknown): PoolConfig {
  if (!isRecord(input)) {
    // A careless init() may mean "from the environment": that is init() left out.
    const hint = input === undefined
      ? " (for a pool built from DATABASE_URL or the PG* variables, leave init() out: the first withHandler() builds it)"
      : "";
    throw new ConfigError(
      "",
      `expected a config object with "db" and "groups", got ${render(input)}${hint}`,
    );
  }
  rejectUnknownKeys(input, "", TOP_KEYS);
  const { endpoints, passwords, retrySleep, targetSessionAttrs: target } = endpointsOf(input.db);
  keepPasswords(passwords);
  const groups = groupsOf(input.groups, {
    endpointIds: endpoints.map((e) => e.id),
    targetSessionAttrs: target ? targetSessionAttrs(target) : DEFAULTS.targetSessionAttrs,
    defaults: poolDefaults(input),
  });
  checkSqlprepareEndpoints(groups, endpoints);
  const type = pick(input, "", ["type"]);
  const durations = {} as Record<DurationKey, number>;
  const given = {} as Record<DurationKey, Field | undefined>;
  for (const [camel, seed, zeroOk] of DURATIONS) {
    const field = pick(input, "", [camel, seed]);
    given[camel] = field;
    durations[camel] = field ? duration(field, zeroOk) : DEFAULTS[camel];
  }
  if (retrySleep) {
    const base = given.reconnectBaseMs;
    if (base && durations.reconnectBaseMs !== retrySleep.ms) {
      throw new ConfigError(
        retrySleep.field.path,
        `conflicts with "${base.path}": ${retrySleep.field.got} s sets reconnectBaseMs to ${retrySleep.ms}, but "${base.path}" is ${base.got}`,
      );
    }
    durations.reconnectBaseMs = retrySleep.ms;
  }
  checkBackoffPair(durations, given.reconnectMaxMs, retrySleep?.field.path);
  return Object.freeze({
    type: type ? oneOf(type, ["non-threaded", "threaded"]) : DEFAULTS.type,
    endpoints: Object.freeze(endpoints),
    groups,
    driver: driverOf(input.driver),
    allowExitOnIdle: allowExitOnIdleOf(input),
    ...durations,
  });
}

function allowExitOnIdleOf(input: Record<string, unknown>): boolean {
  const f = pick(input, "", ["allowExitOnIdle"]);
  if (f && typeof f.value !== "boolean") fail(f, "true or false");
  return f ? f.value as boolean : DEFAULTS.allowExitOnIdle;
}

/**
 * The password of a normalised endpoint. It lives outside the endpoint object
 * so that `JSON.stringify`, `Deno.inspect` and `util.inspect` never show it; a
 * copy of the endpoint (`{ ...endpoint }`) has no password.
 *
 * @param endpoint An endpoint of a config returned by {@linkcode normalizeConfig}.
 * @returns The password, or `undefined` if none was configured.
 */
export function passwordOf(endpoint: EndpointConfig): string | undefined {
  return PASSWORDS.get(endpoint);
}

/**
 * The `pass` function of a normalised endpoint, if its `pass` was one.
 *
 * @param endpoint An endpoint of a normalised config.
 * @returns The function, or `undefined`.
 */
export function passFunctionOf(endpoint: EndpointConfig): PassFunction | undefined {
  return PASS_FUNCTIONS.get(endpoint);
}

/**
 * Normalises a new `db` for `pool.setEndpoints()`. Pool-wide settings an
 * endpoint list can carry (`connection_retry_sleep`, a URL's
 * `?target_session_attrs=`) were fixed when the pool was built: they are refused.
 *
 * @param db The new `db`, in the shapes the config's `db` takes.
 * @returns The endpoints, frozen, their passwords kept apart.
 * @throws {ConfigError} When `db` is invalid or carries a pool-wide setting.
 */
export function normalizeEndpoints(db: unknown): readonly EndpointConfig[] {
  const { endpoints, passwords, retrySleep, targetSessionAttrs: target } = endpointsOf(db);
  const fixed = retrySleep?.field ?? target;
  if (fixed) {
    throw new ConfigError(
      fixed.path,
      "is a pool-wide setting, fixed when the pool was built: remove it from the new endpoint list",
    );
  }
  keepPasswords(passwords);
  return Object.freeze(endpoints);
}

function keepPasswords(passwords: Map<EndpointConfig, string | PassFunction>): void {
  for (const [endpoint, password] of passwords) {
    if (typeof password === "function") PASS_FUNCTIONS.set(endpoint, password);
    else PASSWORDS.set(endpoint, password);
  }
}

function driverOf(driver: unknown): Driver | undefined {
  if (driver === undefined) return undefined;
  const d = driver as Partial<Driver> | null;
  if (
    (typeof driver !== "object" && typeof driver !== "function") || d === null ||
    typeof d.name !== "string" || typeof d.connect !== "function"
  ) {
    throw new ConfigError(
      "driver",
      `expected an object with a string "name" and a "connect" function, got ${render(driver)}`,
    );
  }
  return driver as Driver;
}

function checkBackoffPair(
  durations: Record<DurationKey, number>,
  maxField: Field | undefined,
  baseSource: string | undefined,
): void {
  const { reconnectBaseMs: base, reconnectMaxMs: max } = durations;
  if (max >= base) return;
  const got = maxField ? maxField.got : `${max} (the default)`;
  const from = baseSource ? `, from "${baseSource}"` : "";
  throw new ConfigError(
    maxField?.path ?? "reconnectMaxMs",
    `expected at least reconnectBaseMs (${base}${from}), got ${got}`,
  );
}
