// Consumer groups: committed offsets (the plain form, for groups without members) and, through
// the coordinator, membership with server-side assignment (docs/groups.md). The one service
// every transport calls for groups.
import { and, eq, sql } from "drizzle-orm";
import { StrataError } from "../../core/errors.ts";
import { parseInput } from "../../core/util/parse-input.ts";
import type { MetadataDb } from "../db/database.ts";
import { consumerOffsets } from "../db/schema.ts";
import type { StreamService } from "../streams/stream-service.ts";
import type { GroupProcessingObserver } from "../observability/anomaly-processing.ts";
import { assertGroupName, GroupCoordinator } from "./group-coordinator.ts";
import type { GroupLimits } from "./group-limits.ts";
import { GroupStore } from "./group-store.ts";
import {
  commitOffsetSchema,
  type CommitInput,
  type CommittedOffset,
  type GroupDescription,
  type GroupSummary,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type PartitionLag,
} from "./group-wire.ts";

export * from "./group-wire.ts";

/** The membership coordinator while this gateway serves groups; none while dormant (cluster mode, another gateway coordinates). */
type Coordination = { readonly kind: "serving"; readonly coordinator: GroupCoordinator } | { readonly kind: "dormant" };

export class GroupService {
  private readonly db: MetadataDb;
  private readonly streams: StreamService;
  private readonly limits: GroupLimits;
  #coordination: Coordination = { kind: "dormant" };
  #mayWrite: () => boolean = () => true;
  /** Told of every accepted commit: the end of a processing time (docs/anomalies.md). */
  #processing: GroupProcessingObserver | undefined;

  private constructor(db: MetadataDb, streams: StreamService, limits: GroupLimits) {
    this.db = db;
    this.streams = streams;
    this.limits = limits;
  }

  /**
   * Loads the groups' membership from the metadata database and starts the session timer.
   * `dormant` (cluster mode): nothing is loaded or served until resume(), on the coordinator only.
   */
  static async open(db: MetadataDb, streams: StreamService, limits: GroupLimits, options: { dormant?: boolean; processing?: GroupProcessingObserver } = {}): Promise<GroupService> {
    const service = new GroupService(db, streams, limits);
    service.#processing = options.processing;
    if (options.dormant !== true) await service.resume();
    return service;
  }

  /** Stops the session timer; the gateway closes the database after this. */
  close(): Promise<void> {
    return this.suspend();
  }

  /**
   * Cluster mode, this gateway became the coordinator: membership as the database has it, sessions
   * started anew. `mayWrite` turns false the moment this gateway may no longer coordinate (a pause
   * past its lock's deadline): the session sweep and requests then write nothing, even before suspend().
   */
  async resume(mayWrite: () => boolean = () => true): Promise<void> {
    await this.suspend();
    this.#mayWrite = mayWrite;
    this.#coordination = { kind: "serving", coordinator: await GroupCoordinator.open(new GroupStore(this.db), this.streams, this.limits, mayWrite) };
  }

  /** Stops the session timer and waits for a sweep in progress; requests get NOT_LEADER until resume(). */
  async suspend(): Promise<void> {
    const was = this.#coordination;
    this.#coordination = { kind: "dormant" };
    if (was.kind === "serving") await was.coordinator.close();
  }

  private get coordinator(): GroupCoordinator {
    const coordination = this.#coordination;
    if (coordination.kind === "dormant" || !this.#mayWrite()) throw new StrataError("NOT_LEADER", "this gateway does not coordinate consumer groups (any more); retry");
    return coordination.coordinator;
  }

  heartbeat(group: string, input: HeartbeatRequest): Promise<HeartbeatResponse> {
    return this.coordinator.heartbeat(group, input);
  }

  leave(group: string, member: string): Promise<void> {
    return this.coordinator.leave(group, member);
  }

  /**
   * The streams a leave of `member` is authorised on: the member's subscription. For a member the
   * group does not have, every stream of the group, so that the leave's 404 UNKNOWN_MEMBER tells
   * nothing to a caller who could not remove the group's members anyway.
   */
  memberStreams(group: string, member: string): readonly string[] {
    assertGroupName(group);
    const state = this.coordinator.group(group);
    const found = state?.members.get(member);
    if (found !== undefined) return found.streams;
    return [...new Set([...(state?.members.values() ?? [])].flatMap((m) => m.streams))];
  }

  async commit(group: string, input: CommitInput): Promise<CommittedOffset> {
    assertGroupName(group);
    // Parsed here whatever the transport, so no path can skip a check.
    const request = parseInput(commitOffsetSchema, input, "offset commit");
    const config = this.streams.require(request.stream);
    const partition = request.partition ?? 0;
    this.streams.requirePartition(config, partition);
    const offset = request.offset;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new StrataError("INVALID_OFFSET", "offset must be a non-negative integer");
    // A committed offset is the next one the group reads, so the partition's end is the largest.
    const end = this.streams.get(config.name).partitions[partition]!.end_offset;
    if (offset > end) throw new StrataError("OFFSET_OUT_OF_RANGE", `offset ${offset} is past the end of ${config.name}/${partition} (${end})`);
    // Checked and written with the membership held still, so a revocation cannot slip between.
    return this.coordinator.withGroup(group, async (state) => {
      this.coordinator.checkCommit(state, group, request.member ?? undefined, request.member_epoch ?? undefined, config.name, partition);
      const row = { group, stream: config.name, partition, offset, updatedAt: Date.now() };
      await this.db
        .insert(consumerOffsets)
        .values(row)
        .onConflictDoUpdate({
          target: [consumerOffsets.group, consumerOffsets.stream, consumerOffsets.partition],
          set: { offset: sql`excluded.offset`, updatedAt: sql`excluded.updated_at` },
        });
      this.#processing?.committed(group, row.stream, partition, row.offset);
      return { stream: row.stream, partition, offset: row.offset, updated_at: row.updatedAt };
    });
  }

  async get(group: string, stream?: string): Promise<CommittedOffset[]> {
    assertGroupName(group);
    if (stream !== undefined) this.streams.require(stream);
    const rows = await this.db
      .select()
      .from(consumerOffsets)
      .where(stream === undefined ? eq(consumerOffsets.group, group) : and(eq(consumerOffsets.group, group), eq(consumerOffsets.stream, stream)))
      .orderBy(consumerOffsets.stream, consumerOffsets.partition);
    return rows.map((r) => ({ stream: r.stream, partition: r.partition, offset: r.offset, updated_at: r.updatedAt }));
  }

  /** Every group with members, an epoch or committed offsets, with the streams it touches. */
  async list(): Promise<GroupSummary[]> {
    const byGroup = new Map<string, { epoch: number; members: number; streams: Set<string> }>();
    for (const state of this.coordinator.groups()) {
      const streams = new Set([...state.members.values()].flatMap((m) => m.streams));
      byGroup.set(state.name, { epoch: state.epoch, members: state.members.size, streams });
    }
    const committed = await this.db.selectDistinct({ group: consumerOffsets.group, stream: consumerOffsets.stream }).from(consumerOffsets);
    for (const row of committed) {
      const entry = byGroup.get(row.group) ?? { epoch: 0, members: 0, streams: new Set<string>() };
      entry.streams.add(row.stream);
      byGroup.set(row.group, entry);
    }
    return [...byGroup]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([group, e]) => ({ group, group_epoch: e.epoch, members: e.members, streams: [...e.streams].sort() }));
  }

  /**
   * Members and, per partition of every stream the group subscribes to or committed on, the
   * committed offset, the end offset and the lag (end − committed; from the partition's start
   * offset when nothing is committed). NOT_FOUND for a group with neither members nor offsets.
   */
  async describe(group: string): Promise<GroupDescription> {
    assertGroupName(group);
    const state = this.coordinator.group(group);
    const offsets = await this.get(group);
    if (state === undefined && offsets.length === 0) throw new StrataError("NOT_FOUND", `no group ${group}`);
    const members = state === undefined ? [] : [...state.members.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((m) => this.coordinator.describeMember(group, m));
    const streams = new Set<string>([...members.flatMap((m) => m.streams), ...offsets.map((o) => o.stream)]);
    const committed = new Map(offsets.map((o) => [`${o.stream}\u0000${o.partition}`, o.offset]));
    const partitions: PartitionLag[] = [];
    for (const stream of [...streams].sort()) {
      // A stream deleted since has nothing to lag behind.
      if (!this.#exists(stream)) continue;
      for (const p of this.streams.get(stream).partitions) {
        const offset = committed.get(`${stream}\u0000${p.partition}`) ?? null;
        partitions.push({ stream, partition: p.partition, committed: offset, end_offset: p.end_offset, lag: Math.max(0, p.end_offset - (offset ?? p.start_offset)) });
      }
    }
    return { group, group_epoch: state?.epoch ?? 0, members, partitions };
  }

  #exists(stream: string): boolean {
    try {
      this.streams.require(stream);
      return true;
    } catch {
      return false;
    }
  }
}
