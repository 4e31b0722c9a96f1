// The group consumer's membership as a state machine. A member is `joining` (first heartbeat,
// no epoch), `stable` (owns what its last answer listed), `reconciling` (applying an answer:
// revoked partitions stopped and committed, new ones started), `rejoining` (the gateway forgot
// it or fenced its epoch: everything dropped, next heartbeat has no epoch) or `closed`.
import { invariant } from "../../core/errors.ts";

export type ConsumerState =
  | { readonly kind: "joining" }
  | { readonly kind: "stable"; readonly epoch: number }
  | { readonly kind: "reconciling"; readonly epoch: number }
  | { readonly kind: "rejoining"; readonly reason: string }
  | { readonly kind: "closed" };

const NEXT: Record<ConsumerState["kind"], ReadonlySet<ConsumerState["kind"]>> = {
  joining: new Set(["reconciling", "rejoining", "closed"]),
  stable: new Set(["reconciling", "rejoining", "closed"]),
  reconciling: new Set(["stable", "rejoining", "closed"]),
  rejoining: new Set(["reconciling", "rejoining", "closed"]),
  closed: new Set(),
};

/** The next state; throws on a transition the machine does not have or an epoch going back. */
export function transition(from: ConsumerState, to: ConsumerState): ConsumerState {
  invariant(NEXT[from.kind].has(to.kind), `group consumer: no transition ${from.kind} -> ${to.kind}`);
  if (from.kind === "stable" && to.kind === "reconciling") invariant(to.epoch >= from.epoch, `group consumer: epoch went back from ${from.epoch} to ${to.epoch}`);
  if (from.kind === "reconciling" && to.kind === "stable") invariant(to.epoch === from.epoch, `group consumer: reconciled at epoch ${from.epoch} but stable at ${to.epoch}`);
  return to;
}

/** The epoch to heartbeat and commit with, or null when the member holds no membership. */
export function epochOf(state: ConsumerState): number | null {
  return state.kind === "stable" || state.kind === "reconciling" ? state.epoch : null;
}

/** Owned partitions exist only while a member; called after every change of either. */
export function assertOwnership(state: ConsumerState, owned: number): void {
  invariant(owned === 0 || epochOf(state) !== null, `group consumer: owns ${owned} partitions while ${state.kind}`);
}
