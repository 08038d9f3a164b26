/**
 * What one endpoint search has learned so far: why each endpoint was passed
 * over (for the `OfflineError`), the last outage and cut handshake, the
 * endpoints whose role did not match (checked again, rate-limited), and the
 * fallback a `prefer-standby` group keeps while it looks for a standby.
 *
 * @module
 */
import type { TargetSessionAttrs } from "../config/normalize.ts";
import type { DriverConnection } from "../driver.ts";
import { asConnectionError, offlineError } from "./connect_errors.ts";
import type { EndpointSet } from "./endpoint_set.ts";
import type { ConnectExtra } from "./open_session.ts";
import type { Outcome } from "./attempt_race.ts";
import { roleName, type ServerRole, serves } from "./roles.ts";

/** Who searches: the group's endpoints and target. */
export interface SearchScope {
  /** The pool's endpoints. */
  readonly set: EndpointSet;
  /** The group's name, for messages. */
  readonly group: string | undefined;
  /** The endpoints the group may use, in order. */
  readonly indexes: readonly number[];
  /** The group's target. */
  readonly target: TargetSessionAttrs;
  /** Whether the target asks for a role. */
  readonly checksRole: boolean;
  /** Passed to every connect of this search (the listen session's notifications). */
  readonly extra?: ConnectExtra;
}

/** A session found, and its endpoint index (not yet counted for the group). */
export interface Found {
  /** The session. */
  connection: DriverConnection;
  /** Its endpoint. */
  endpoint: number;
}

/** The findings of one search. */
export class SearchFindings {
  /** Endpoints whose role did not match, to be checked again (rate-limited). */
  readonly mismatched: number[] = [];
  /** A session that serves only while nothing better is found (`prefer-standby`). */
  fallback: Found | undefined;
  readonly #scope: SearchScope;
  readonly #why = new Map<number, string>();
  #cut: { error: unknown; at: number } | undefined;
  #outage: unknown;

  /**
   * @param scope The search's group.
   */
  constructor(scope: SearchScope) {
    this.#scope = scope;
  }

  /**
   * An endpoint left untried: its known role does not match.
   *
   * @param i Endpoint index.
   * @param role Its role.
   */
  passOver(i: number, role: ServerRole): void {
    this.#why.set(i, roleName(role));
    this.mismatched.push(i);
  }

  /**
   * Takes an attempt's outcome.
   *
   * @param outcome The outcome.
   * @returns The session found, or `undefined` (noted why; a session that
   *   does not serve is closed, or kept as the fallback).
   * @throws {ConnectionError} The server refused the login.
   */
  take({ endpoint: i, got }: Outcome): Found | undefined {
    const { set, target, checksRole } = this.#scope;
    if (got.connection === undefined) {
      if (got.kind === "login") throw asConnectionError(got.error, set.label(i), true);
      if (got.kind === "handshake") this.#cut = { error: got.error, at: i };
      else this.#outage = got.error;
      this.#why.set(i, got.kind === "handshake" ? "the server cut the handshake" : "unreachable");
      return undefined;
    }
    const role = checksRole ? got.role ?? set.roles.roleOf(i) : undefined;
    if (!checksRole || (role !== undefined && serves(role, target, false))) {
      this.dropFallback();
      return { connection: got.connection, endpoint: i };
    }
    this.#why.set(i, roleName(role));
    if (role !== undefined && serves(role, target, true)) {
      if (!this.fallback) {
        this.fallback = { connection: got.connection, endpoint: i };
        return undefined;
      }
    } else if (role !== undefined) this.mismatched.push(i);
    set.close(i, got.connection);
    return undefined;
  }

  /** Closes the fallback's session, if any. */
  dropFallback(): void {
    const f = this.fallback;
    this.fallback = undefined;
    if (f) this.#scope.set.close(f.endpoint, f.connection);
  }

  /**
   * Why the search found nothing.
   *
   * @returns A `ConnectionError` when a server cut the handshake, else the `OfflineError`.
   */
  failure(): Error {
    const { set, group, indexes, target, checksRole } = this.#scope;
    const cut = this.#cut;
    if (cut !== undefined) return asConnectionError(cut.error, set.label(cut.at), false);
    const detail = indexes.map((i) => set.describe(i, this.#why.get(i)));
    const why = [...this.#why.values()];
    return offlineError(group, checksRole ? target : undefined, why, detail, this.#outage);
  }
}
