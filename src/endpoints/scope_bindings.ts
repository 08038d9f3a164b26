/**
 * The scopes an endpoint set handed out, each with the endpoint ids it is
 * bound to: built over the endpoints of now, and rebound all together when
 * `pool.setEndpoints()` changes the list.
 *
 * @module
 */
import type { TargetSessionAttrs } from "../config/normalize.ts";
import type { Binding } from "../reconfig/endpoint_swap.ts";
import type { EndpointSet } from "./endpoint_set.ts";
import { EndpointScope } from "./endpoint_scope.ts";
import type { ConnectExtra, EndpointState } from "./open_session.ts";

/** What a scope is bound to: endpoint ids (`undefined`: all) and a target. */
export interface ScopeBinding {
  /** The endpoint ids; `undefined`: all of them. */
  readonly endpoints?: readonly string[] | undefined;
  /** The group's `target_session_attrs`; `"any"` when left out. */
  readonly targetSessionAttrs?: TargetSessionAttrs;
}

/** The scopes of one endpoint set. */
export class ScopeBindings {
  readonly #states: readonly EndpointState[];
  readonly #scopes: { scope: EndpointScope; binding: Binding }[] = [];

  /**
   * No scope yet.
   *
   * @param states The set's endpoint states (the live array, grown by a swap).
   */
  constructor(states: readonly EndpointState[]) {
    this.#states = states;
  }

  /**
   * A new scope over the endpoints `binding` selects, kept for {@linkcode ScopeBindings.rebind}.
   *
   * @param set The endpoint set.
   * @param group The group's name (for messages).
   * @param binding Its ids and target.
   * @param extra Passed to every connect.
   * @returns The scope.
   */
  open(
    set: EndpointSet,
    group: string | undefined,
    binding: ScopeBinding,
    extra: ConnectExtra | undefined,
  ): EndpointScope {
    const ids = binding.endpoints;
    const target = binding.targetSessionAttrs ?? "any";
    const scope = new EndpointScope(set, group, this.#indexesOf(ids), target, extra);
    this.#scopes.push({ scope, binding: { group, ids } });
    return scope;
  }

  /** The bindings of every scope, for `planSwap`. */
  bindings(): Binding[] {
    return this.#scopes.map((s) => s.binding);
  }

  /** After a swap: every scope over the endpoints of now. */
  rebind(): void {
    for (const { scope, binding } of this.#scopes) scope.rebind(this.#indexesOf(binding.ids));
  }

  // The endpoints not removed whose id is in `ids` (all of them without ids).
  #indexesOf(ids: readonly string[] | undefined): number[] {
    return this.#states.map((_, i) => i).filter((i) =>
      !this.#states[i].removed && (ids === undefined || ids.includes(this.#states[i].config.id))
    );
  }
}
