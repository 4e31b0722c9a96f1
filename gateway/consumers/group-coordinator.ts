// The consumer-group coordinator: membership, epochs, the target assignment and each member's
// reconciliation (group-state.ts), persisted through GroupStore, serialized per group, with a
// timer that removes members silent past their session timeout. docs/groups.md.
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../../core/errors.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import { parseInput } from "../../core/util/parse-input.ts";
import type { StreamService } from "../streams/stream-service.ts";
import { partitionKey, splitPartitionKey, type PartitionKey } from "./assignor.ts";
import type { GroupLimits } from "./group-limits.ts";
import {
  acknowledge,
  assertGroupInvariants,
  emptyGroup,

  join,
  leave,
  ownsSince,
  reconcile,
  replaceStatic,
  requireEpoch,
  resubscribe,
  type GroupState,
  type MemberState,
  type PartitionsOf,
} from "./group-state.ts";
import type { GroupStore } from "./group-store.ts";
import { GROUP_NAME, heartbeatRequestSchema, type HeartbeatRequest, type HeartbeatResponse, type MemberDescription, type TopicPartition } from "./group-wire.ts";

const log = getLogger(["strata", "groups"]);

/** Heartbeats per session timeout: a member may miss two before it expires. */
const HEARTBEATS_PER_SESSION = 3;
/**
 * Heartbeat interval of a member mid-reconciliation (revoking, or awaiting partitions others
 * release): its next heartbeat moves the rebalance on, so it comes soon rather than a third of
 * the session later.
 */
const RECONCILING_HEARTBEAT_MS = 100;

export function assertGroupName(group: string): void {
  if (!GROUP_NAME.test(group)) throw new StrataError("BAD_REQUEST", `group must match ${GROUP_NAME.source}`);
}

/** In stream order, then partition number. */
function toPartitions(keys: Iterable<PartitionKey>): TopicPartition[] {
  return [...keys].map(splitPartitionKey).sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.partition - b.partition));
}

function heartbeatInterval(member: MemberState): number {
  const steady = Math.max(1, Math.floor(member.sessionTimeoutMs / HEARTBEATS_PER_SESSION));
  return member.state.kind === "stable" ? steady : Math.min(steady, RECONCILING_HEARTBEAT_MS);
}

export class GroupCoordinator {
  readonly #groups = new Map<string, GroupState>();
  /** In memory only; a restart starts every session anew. */
  readonly #lastHeartbeat = new Map<string, number>();
  readonly #lock = new KeyedLock();
  readonly #store: GroupStore;
  readonly #streams: StreamService;
  readonly #limits: GroupLimits;
  readonly #timer: ReturnType<typeof setInterval>;
  /** The sweep running now, if any (close waits for it). */
  #sweepRun: Promise<void> | undefined;

  /** Cluster mode: false once this gateway may no longer coordinate (its lock's local deadline passed): the sweep writes nothing. */
  readonly #mayWrite: () => boolean;

  private constructor(store: GroupStore, streams: StreamService, limits: GroupLimits, loaded: readonly GroupState[], mayWrite: () => boolean) {
    this.#mayWrite = mayWrite;
    this.#store = store;
    this.#streams = streams;
    this.#limits = limits;
    const now = Date.now();
    for (const group of loaded) {
      assertGroupInvariants(group);
      this.#groups.set(group.name, group);
      for (const id of group.members.keys()) this.#lastHeartbeat.set(this.#sessionKey(group.name, id), now);
    }
    // A quarter of the shortest session: a member expires at most that late.
    const every = Math.max(25, Math.min(1000, Math.floor(limits.minSessionTimeoutMs / 4)));
    this.#timer = setInterval(() => {
      this.#sweepRun ??= this.#sweep().finally(() => (this.#sweepRun = undefined));
    }, every);
    this.#timer.unref?.();
  }

  static async open(store: GroupStore, streams: StreamService, limits: GroupLimits, mayWrite: () => boolean = () => true): Promise<GroupCoordinator> {
    return new GroupCoordinator(store, streams, limits, await store.load(), mayWrite);
  }

  /** Stops the session timer and waits for a sweep in progress (it may be writing). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sweepRun;
  }

  #sessionKey(group: string, member: string): string {
    return `${group}\u0000${member}`;
  }

  readonly #partitionsOf: PartitionsOf = (stream) => {
    try {
      return this.#streams.require(stream).partitions;
    } catch {
      return undefined;
    }
  };

  /** Groups with members or an epoch (offsets-only groups are the offset table's). */
  groups(): GroupState[] {
    return [...this.#groups.values()];
  }

  group(name: string): GroupState | undefined {
    return this.#groups.get(name);
  }

  lastHeartbeat(group: string, member: string): number {
    return this.#lastHeartbeat.get(this.#sessionKey(group, member)) ?? 0;
  }

  /** Runs `task` with the group's membership held still (commits check ownership under it). */
  withGroup<T>(group: string, task: (state: GroupState | undefined) => Promise<T>): Promise<T> {
    return this.#lock.run(group, () => task(this.#groups.get(group)));
  }

  heartbeat(group: string, input: HeartbeatRequest): Promise<HeartbeatResponse> {
    assertGroupName(group);
    const request = parseInput(heartbeatRequestSchema, input, "heartbeat");
    const streams = [...new Set(request.streams)].sort();
    if (streams.length > this.#limits.maxStreamsPerSubscription) {
      throw new StrataError("BAD_REQUEST", `a member subscribes to at most ${this.#limits.maxStreamsPerSubscription} streams (limits: groups.maxStreamsPerSubscription)`);
    }
    for (const stream of streams) this.#streams.require(stream);
    const sessionTimeoutMs = request.session_timeout_ms ?? this.#limits.defaultSessionTimeoutMs;
    if (sessionTimeoutMs < this.#limits.minSessionTimeoutMs || sessionTimeoutMs > this.#limits.maxSessionTimeoutMs) {
      throw new StrataError("BAD_REQUEST", `session_timeout_ms must be in [${this.#limits.minSessionTimeoutMs}, ${this.#limits.maxSessionTimeoutMs}]`);
    }
    const memberId = request.member;
    const instance = request.instance ?? null;
    const epoch = request.member_epoch ?? 0;
    return this.#lock.run(group, async () => {
      const now = Date.now();
      let state = this.#groups.get(group);
      if (state === undefined) {
        if (epoch !== 0) throw new StrataError("UNKNOWN_MEMBER", `group ${group} has no member ${memberId}: rejoin without an epoch`);
        state = emptyGroup(group);
      }
      const existing = state.members.get(memberId);
      if (epoch === 0) {
        const staticHolder = instance === null ? undefined : [...state.members.values()].find((m) => m.instance === instance);
        if (staticHolder !== undefined) {
          // A static member back within its session: it takes its old place, nothing moves.
          if (staticHolder.id !== memberId) {
            if (existing !== undefined) state = leave(state, memberId, this.#partitionsOf);
            state = replaceStatic(state, staticHolder.id, memberId, now);
            this.#lastHeartbeat.delete(this.#sessionKey(group, staticHolder.id));
            log.info("static member {instance} of group {group} is back as {member}", { instance, group, member: memberId });
          }
        } else {
          // A member rejoining under its id has dropped everything it held first (docs/groups.md).
          if (existing !== undefined) state = leave(state, memberId, this.#partitionsOf);
          // Groups whose members all left keep their epoch but do not count.
          if (state.members.size === 0 && [...this.#groups.values()].filter((g) => g.members.size > 0).length >= this.#limits.maxGroups) {
            throw new StrataError("UNAVAILABLE", `the gateway coordinates at most ${this.#limits.maxGroups} groups with members (limits: groups.maxGroups)`);
          }
          if (state.members.size >= this.#limits.maxMembersPerGroup) {
            throw new StrataError("BAD_REQUEST", `group ${group} has ${state.members.size} members, the most allowed (limits: groups.maxMembersPerGroup)`);
          }
          state = join(state, { id: memberId, instance, streams, sessionTimeoutMs, joinedAt: now }, this.#partitionsOf);
          log.info("member {member} joined group {group} at epoch {epoch}", { member: memberId, group, epoch: state.epoch });
        }
      } else {
        if (existing === undefined) throw new StrataError("UNKNOWN_MEMBER", `group ${group} has no member ${memberId}: rejoin without an epoch`);
        requireEpoch(state, existing, epoch);
        if (instance !== existing.instance) throw new StrataError("BAD_REQUEST", `member ${memberId} joined with instance ${JSON.stringify(existing.instance)}; a member's instance does not change`);
        state = acknowledge(state, memberId);
      }
      state = resubscribe(state, memberId, streams, sessionTimeoutMs, this.#partitionsOf);
      state = reconcile(state, memberId);
      assertGroupInvariants(state);
      this.#lastHeartbeat.set(this.#sessionKey(group, memberId), now);
      await this.#store.save(state, (id) => this.lastHeartbeat(group, id));
      this.#groups.set(group, state);
      const member = state.members.get(memberId);
      if (member === undefined) throw new StrataError("INTERNAL", `member ${memberId} vanished from group ${group}`);
      return {
        member_epoch: member.epoch,
        assignment: toPartitions(member.assigned.keys()),
        heartbeat_interval_ms: heartbeatInterval(member),
      };
    });
  }

  /** The member leaves at once: its partitions go to the others on their next heartbeats. */
  leave(group: string, memberId: string): Promise<void> {
    assertGroupName(group);
    return this.#lock.run(group, async () => {
      const state = this.#groups.get(group);
      if (state === undefined || !state.members.has(memberId)) throw new StrataError("UNKNOWN_MEMBER", `group ${group} has no member ${memberId}`);
      await this.#remove(state, [memberId]);
      log.info("member {member} left group {group}", { member: memberId, group });
    });
  }

  async #remove(state: GroupState, ids: readonly string[]): Promise<void> {
    let next = state;
    for (const id of ids) next = leave(next, id, this.#partitionsOf);
    assertGroupInvariants(next);
    await this.#store.save(next, (id) => this.lastHeartbeat(state.name, id));
    this.#groups.set(state.name, next);
    for (const id of ids) this.#lastHeartbeat.delete(this.#sessionKey(state.name, id));
  }

  /** Removes every member silent past its session timeout. */
  async #sweep(): Promise<void> {
    if (!this.#mayWrite()) return;
    try {
      const now = Date.now();
      for (const name of [...this.#groups.keys()]) {
        const expired = (state: GroupState | undefined) =>
          state === undefined ? [] : [...state.members.values()].filter((m) => now - this.lastHeartbeat(name, m.id) > m.sessionTimeoutMs).map((m) => m.id);
        if (expired(this.#groups.get(name)).length === 0) continue;
        await this.#lock.run(name, async () => {
          const state = this.#groups.get(name);
          const ids = expired(state);
          if (state === undefined || ids.length === 0) return;
          await this.#remove(state, ids);
          log.info("members {members} of group {group} expired", { members: ids, group: name });
        });
      }
    } catch (e) {
      log.error("session sweep failed: {error}", { error: e });
    }
  }

  /**
   * Refuses a commit unless `member` held the partition from `epoch` until now: 404
   * UNKNOWN_MEMBER for a member the group does not have, else 409 STALE_MEMBER_EPOCH. Called
   * under withGroup.
   */
  checkCommit(state: GroupState | undefined, group: string, member: string | undefined, epoch: number | undefined, stream: string, partition: number): void {
    const hasMembers = state !== undefined && state.members.size > 0;
    if (member === undefined) {
      if (hasMembers) throw new StrataError("STALE_MEMBER_EPOCH", `group ${group} has members: a commit names its member and member_epoch`);
      return;
    }
    const owner = state?.members.get(member);
    if (state === undefined || owner === undefined) throw new StrataError("UNKNOWN_MEMBER", `group ${group} has no member ${member}: rejoin without an epoch`);
    if (epoch === undefined) throw new StrataError("BAD_REQUEST", "a commit naming a member carries its member_epoch");
    if (!ownsSince(owner, partitionKey(stream, partition), epoch)) {
      throw new StrataError("STALE_MEMBER_EPOCH", `member ${member} of group ${group} does not own ${stream}/${partition} at epoch ${epoch} (it is at ${owner.epoch})`);
    }
  }

  describeMember(group: string, member: MemberState): MemberDescription {
    return {
      member: member.id,
      instance: member.instance,
      last_heartbeat: this.lastHeartbeat(group, member.id),
      member_epoch: member.epoch,
      state: member.state.kind,
      streams: [...member.streams],
      session_timeout_ms: member.sessionTimeoutMs,
      assignment: toPartitions(member.assigned.keys()),
      revoking: toPartitions(member.state.kind === "unrevoked-partitions" ? member.state.revoking : []),
    };
  }
}

