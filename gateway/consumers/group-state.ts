// One consumer group's membership as an explicit state machine, in the model of KIP-848: the
// group epoch is bumped by every membership or subscription change and the target assignment is
// recomputed at it; each member then reconciles towards its target on its own heartbeats, so
// members whose partitions do not move keep working. A partition moving from A to B is first
// revoked from A (A's member epoch moves to the group's, and A holds the partition as
// `revoking` until a heartbeat carrying that epoch acknowledges the answer); B receives it only
// once A released it (acknowledged, left, expired or rejoined). Pure: no I/O, no clock.
import { invariant, StrataError } from "../../core/errors.ts";
import { assignPartitions, type PartitionKey } from "./assignor.ts";
import type { MemberStateKind } from "./group-wire.ts";

/** Where a member stands against its target assignment. */
export type MemberReconciliation =
  | { readonly kind: "stable" }
  /** Partitions were taken away in the last answer; they stay the member's until a heartbeat with its current epoch acknowledges it. */
  | { readonly kind: "unrevoked-partitions"; readonly revoking: ReadonlySet<PartitionKey> }
  /** Partitions of its target are still held by other members; it receives each once released. */
  | { readonly kind: "unreleased-partitions"; readonly awaiting: ReadonlySet<PartitionKey> };

export interface MemberState {
  readonly id: string;
  readonly instance: string | null;
  readonly streams: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly epoch: number;
  /** Owned partitions, each with the member epoch at which the member received it (commits from that epoch on are its). */
  readonly assigned: ReadonlyMap<PartitionKey, number>;
  readonly target: ReadonlySet<PartitionKey>;
  readonly state: MemberReconciliation;
  readonly joinedAt: number;
}

export interface GroupState {
  readonly name: string;
  readonly epoch: number;
  readonly members: ReadonlyMap<string, MemberState>;
}

export type PartitionsOf = (stream: string) => number | undefined;

export function emptyGroup(name: string): GroupState {
  return { name, epoch: 0, members: new Map() };
}

/** Partitions a member holds: owned, and revoked but not yet acknowledged. */
export function heldBy(member: MemberState): PartitionKey[] {
  const held = [...member.assigned.keys()];
  if (member.state.kind === "unrevoked-partitions") held.push(...member.state.revoking);
  return held;
}

export function stateKind(member: MemberState): MemberStateKind {
  return member.state.kind;
}

/** Throws INTERNAL if the group breaks an invariant of the protocol. */
export function assertGroupInvariants(group: GroupState): void {
  const holder = new Map<PartitionKey, string>();
  for (const member of group.members.values()) {
    invariant(member.epoch <= group.epoch, `group ${group.name}: member ${member.id} epoch ${member.epoch} is past the group's ${group.epoch}`);
    for (const key of heldBy(member)) {
      const other = holder.get(key);
      invariant(other === undefined, `group ${group.name}: partition ${key} is held by both ${other} and ${member.id}`);
      holder.set(key, member.id);
    }
    if (member.epoch === group.epoch) {
      for (const key of member.assigned.keys()) invariant(member.target.has(key), `group ${group.name}: ${member.id} owns ${key} outside its target at the group epoch`);
    }
    for (const [key, since] of member.assigned) invariant(since <= member.epoch, `group ${group.name}: ${member.id} received ${key} at epoch ${since}, after its own ${member.epoch}`);
    const { state } = member;
    if (state.kind === "unrevoked-partitions") {
      invariant(state.revoking.size > 0, `group ${group.name}: ${member.id} is revoking nothing`);
      for (const key of state.revoking) invariant(!member.assigned.has(key), `group ${group.name}: ${member.id} both owns and revokes ${key}`);
    }
    if (state.kind === "unreleased-partitions") invariant(state.awaiting.size > 0, `group ${group.name}: ${member.id} awaits nothing`);
  }
  // Targets never overlap: they are one assignment.
  const targeted = new Set<PartitionKey>();
  for (const member of group.members.values()) {
    for (const key of member.target) {
      invariant(!targeted.has(key), `group ${group.name}: partition ${key} is in two targets`);
      targeted.add(key);
    }
  }
}

/** The group with its epoch bumped and the target assignment recomputed at it. */
function rebalanced(group: GroupState, members: ReadonlyMap<string, MemberState>, partitionsOf: PartitionsOf): GroupState {
  const previous = new Map([...members.values()].map((m) => [m.id, m.target]));
  const target = assignPartitions(
    [...members.values()].map((m) => ({ id: m.id, streams: new Set(m.streams) })),
    partitionsOf,
    previous,
  );
  const next = new Map<string, MemberState>();
  for (const member of members.values()) next.set(member.id, { ...member, target: target.get(member.id) ?? new Set() });
  return { name: group.name, epoch: group.epoch + 1, members: next };
}

function withMember(group: GroupState, member: MemberState): Map<string, MemberState> {
  const members = new Map(group.members);
  members.set(member.id, member);
  return members;
}

/** A new member (no partitions yet); the group rebalances. */
export function join(group: GroupState, member: Omit<MemberState, "epoch" | "assigned" | "target" | "state">, partitionsOf: PartitionsOf): GroupState {
  invariant(!group.members.has(member.id), `group ${group.name}: ${member.id} joins twice`);
  const joined: MemberState = { ...member, epoch: 0, assigned: new Map(), target: new Set(), state: { kind: "stable" } };
  return rebalanced(group, withMember(group, joined), partitionsOf);
}

/** A member leaves (explicitly, expired, or rejoining): what it held is released at once; the group rebalances. */
export function leave(group: GroupState, memberId: string, partitionsOf: PartitionsOf): GroupState {
  invariant(group.members.has(memberId), `group ${group.name}: ${memberId} leaves without being a member`);
  const members = new Map(group.members);
  members.delete(memberId);
  return rebalanced(group, members, partitionsOf);
}

/**
 * A static member back under a new member id: it takes the old member's place, epoch and
 * partitions, so nothing moves and the group epoch stays. What the old one was revoking is
 * released (its process is gone).
 */
export function replaceStatic(group: GroupState, oldId: string, newId: string, joinedAt: number): GroupState {
  const old = group.members.get(oldId);
  invariant(old !== undefined, `group ${group.name}: no member ${oldId} to replace`);
  invariant(!group.members.has(newId), `group ${group.name}: ${newId} replaces ${oldId} but is already a member`);
  const members = new Map<string, MemberState>();
  for (const [id, member] of group.members) {
    if (id === oldId) members.set(newId, { ...old, id: newId, joinedAt, state: old.state.kind === "unrevoked-partitions" ? { kind: "stable" } : old.state });
    else members.set(id, member);
  }
  return { ...group, members };
}

/** A member's new subscription or session timeout; a subscription change rebalances the group. */
export function resubscribe(group: GroupState, memberId: string, streams: readonly string[], sessionTimeoutMs: number, partitionsOf: PartitionsOf): GroupState {
  const member = group.members.get(memberId);
  invariant(member !== undefined, `group ${group.name}: ${memberId} resubscribes without being a member`);
  const same = member.streams.length === streams.length && member.streams.every((s, i) => s === streams[i]);
  const updated = withMember(group, { ...member, streams: [...streams], sessionTimeoutMs });
  return same ? { ...group, members: updated } : rebalanced(group, updated, partitionsOf);
}

/**
 * The member's heartbeat carried its current epoch: it has seen the last answer, so what that
 * answer revoked is released.
 */
export function acknowledge(group: GroupState, memberId: string): GroupState {
  const member = group.members.get(memberId);
  invariant(member !== undefined, `group ${group.name}: ${memberId} acknowledges without being a member`);
  if (member.state.kind !== "unrevoked-partitions") return group;
  return { ...group, members: withMember(group, { ...member, state: { kind: "stable" } }) };
}

/**
 * One reconciliation step of a member towards its target, at the group epoch: first revoke what
 * left its target (nothing is added in the same step), else add every target partition nobody
 * else holds. The member's epoch becomes the group's either way.
 */
export function reconcile(group: GroupState, memberId: string): GroupState {
  const member = group.members.get(memberId);
  invariant(member !== undefined, `group ${group.name}: ${memberId} reconciles without being a member`);
  if (member.state.kind === "unrevoked-partitions") return group;
  const revoke = [...member.assigned.keys()].filter((key) => !member.target.has(key));
  if (revoke.length > 0) {
    const assigned = new Map([...member.assigned].filter(([key]) => member.target.has(key)));
    return { ...group, members: withMember(group, { ...member, epoch: group.epoch, assigned, state: { kind: "unrevoked-partitions", revoking: new Set(revoke) } }) };
  }
  const heldByOthers = new Set<PartitionKey>();
  for (const other of group.members.values()) if (other.id !== memberId) for (const key of heldBy(other)) heldByOthers.add(key);
  const assigned = new Map(member.assigned);
  const awaiting = new Set<PartitionKey>();
  for (const key of member.target) {
    if (assigned.has(key)) continue;
    if (heldByOthers.has(key)) awaiting.add(key);
    else assigned.set(key, group.epoch);
  }
  const state: MemberReconciliation = awaiting.size > 0 ? { kind: "unreleased-partitions", awaiting } : { kind: "stable" };
  return { ...group, members: withMember(group, { ...member, epoch: group.epoch, assigned, state }) };
}

/** Refuses a heartbeat or commit epoch that is not the member's (409 STALE_MEMBER_EPOCH). */
export function requireEpoch(group: GroupState, member: MemberState, epoch: number): void {
  if (epoch !== member.epoch) {
    throw new StrataError("STALE_MEMBER_EPOCH", `member ${member.id} of group ${group.name} is at epoch ${member.epoch}, not ${epoch}: rejoin without an epoch`);
  }
}

/** Whether `member` owned `key` continuously from `epoch` until now (a commit at that epoch is its). */
export function ownsSince(member: MemberState, key: PartitionKey, epoch: number): boolean {
  if (epoch > member.epoch) return false;
  const since = member.assigned.get(key);
  if (since !== undefined) return since <= epoch;
  // Revoked but not yet acknowledged: still the member's, for a final commit.
  return member.state.kind === "unrevoked-partitions" && member.state.revoking.has(key);
}
