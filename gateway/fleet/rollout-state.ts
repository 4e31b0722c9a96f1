// The state machine of one rollout: active → paused (by itself, past max_failure_percent) →
// active (a new percentage resumes it); active at 100 % → completed (every matching device runs
// the target); active, paused or completed → rolled-back. Nothing leaves rolled-back. A forbidden
// change is ROLLOUT_CONFLICT (409) and changes nothing.
import { invariant, StrataError } from "../../core/errors.ts";
import type { RolloutStateName } from "./fleet-wire.ts";

export type RolloutState =
  | { readonly kind: "active" }
  | { readonly kind: "paused"; readonly reason: string }
  | { readonly kind: "completed" }
  | { readonly kind: "rolled-back" };

export const FULL_BP = 10_000;

export function stateOf(name: RolloutStateName, reason: string | null): RolloutState {
  if (name === "paused") return { kind: "paused", reason: reason ?? "paused" };
  return { kind: name };
}

function refuse(id: string, state: RolloutState, what: string): never {
  throw new StrataError("ROLLOUT_CONFLICT", `rollout ${id} is ${state.kind}: it cannot ${what}`);
}

/** PATCH percent: an active or paused rollout becomes active at the new percentage. */
export function setPercent(id: string, state: RolloutState): RolloutState {
  if (state.kind !== "active" && state.kind !== "paused") refuse(id, state, "change its percentage");
  return { kind: "active" };
}

export function pause(id: string, state: RolloutState, reason: string): RolloutState {
  invariant(state.kind === "active", `rollout ${id} pauses only when active, not ${state.kind}`);
  return { kind: "paused", reason };
}

export function complete(id: string, state: RolloutState, percentBp: number): RolloutState {
  invariant(state.kind === "active" && percentBp === FULL_BP, `rollout ${id} completes only when active at 100 %, not ${state.kind} at ${percentBp / 100} %`);
  return { kind: "completed" };
}

export function rollBack(id: string, state: RolloutState, previous: string | null): RolloutState {
  if (state.kind === "rolled-back") refuse(id, state, "roll back again");
  if (previous === null) throw new StrataError("ROLLOUT_CONFLICT", `rollout ${id} has no previous version to return to`);
  return { kind: "rolled-back" };
}

/** A rollout that is not rolled back decides for the devices it selects; only one per stream may still move (active or paused). */
export function isOpen(state: RolloutState): boolean {
  return state.kind === "active" || state.kind === "paused";
}
