// Groups in the metadata database: loaded once at start, then written as diffs. A member's row
// is rewritten only when something other than its last heartbeat changed (epoch, state,
// assignment, subscription), so steady heartbeats cost no write.
import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { invariant } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { consumerGroupMembers, consumerGroups } from "../db/schema.ts";
import { partitionKey, splitPartitionKey, type PartitionKey } from "./assignor.ts";
import type { GroupState, MemberReconciliation, MemberState } from "./group-state.ts";

type MemberRow = typeof consumerGroupMembers.$inferInsert;

const pairs = z.array(z.tuple([z.string(), z.number().int().min(0)]));
const triples = z.array(z.tuple([z.string(), z.number().int().min(0), z.number().int().min(0)]));
const streamList = z.array(z.string());
const stateName = z.enum(["stable", "unrevoked-partitions", "unreleased-partitions"]);

function keysToJson(keys: Iterable<PartitionKey>): string {
  return JSON.stringify(
    [...keys].sort().map((key) => {
      const { stream, partition } = splitPartitionKey(key);
      return [stream, partition];
    }),
  );
}

function keysFromJson(text: string): Set<PartitionKey> {
  return new Set(pairs.parse(JSON.parse(text)).map(([stream, partition]) => partitionKey(stream, partition)));
}

function memberRow(group: string, member: MemberState, lastHeartbeat: number): MemberRow {
  const { state } = member;
  return {
    group,
    member: member.id,
    instance: member.instance,
    streams: JSON.stringify(member.streams),
    sessionTimeoutMs: member.sessionTimeoutMs,
    memberEpoch: member.epoch,
    state: state.kind,
    assigned: JSON.stringify(
      [...member.assigned].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, since]) => {
        const { stream, partition } = splitPartitionKey(key);
        return [stream, partition, since];
      }),
    ),
    revoking: keysToJson(state.kind === "unrevoked-partitions" ? state.revoking : []),
    target: keysToJson(member.target),
    joinedAt: member.joinedAt,
    lastHeartbeat,
  };
}

/** The row without its heartbeat time: equal signatures need no write. */
function signature(row: MemberRow): string {
  return JSON.stringify({ ...row, lastHeartbeat: 0 });
}

function memberFromRow(row: typeof consumerGroupMembers.$inferSelect): MemberState {
  const kind = stateName.parse(row.state);
  const assigned = new Map(triples.parse(JSON.parse(row.assigned)).map(([stream, partition, since]) => [partitionKey(stream, partition), since]));
  const target = keysFromJson(row.target);
  const revoking = keysFromJson(row.revoking);
  let state: MemberReconciliation;
  if (kind === "unrevoked-partitions") state = { kind, revoking };
  else if (kind === "unreleased-partitions") state = { kind, awaiting: new Set([...target].filter((key) => !assigned.has(key))) };
  else state = { kind };
  return {
    id: row.member,
    instance: row.instance,
    streams: streamList.parse(JSON.parse(row.streams)),
    sessionTimeoutMs: row.sessionTimeoutMs,
    epoch: row.memberEpoch,
    assigned,
    target,
    state,
    joinedAt: row.joinedAt,
  };
}

export class GroupStore {
  readonly #db: MetadataDb;
  /** What each group's rows hold: group -> member -> signature. */
  readonly #written = new Map<string, { epoch: number; members: Map<string, string> }>();

  constructor(db: MetadataDb) {
    this.#db = db;
  }

  async load(): Promise<GroupState[]> {
    const groups = await this.#db.select().from(consumerGroups);
    const rows = await this.#db.select().from(consumerGroupMembers);
    const loaded: GroupState[] = [];
    for (const g of groups) {
      const members = new Map<string, MemberState>();
      const written = new Map<string, string>();
      for (const row of rows.filter((r) => r.group === g.group)) {
        members.set(row.member, memberFromRow(row));
        written.set(row.member, signature({ ...row }));
      }
      this.#written.set(g.group, { epoch: g.epoch, members: written });
      loaded.push({ name: g.group, epoch: g.epoch, members });
    }
    return loaded;
  }

  /** Writes what changed since the last save of this group, in one transaction; false when nothing had. */
  async save(group: GroupState, lastHeartbeatOf: (member: string) => number): Promise<boolean> {
    const before = this.#written.get(group.name);
    const rows = [...group.members.values()].map((m) => memberRow(group.name, m, lastHeartbeatOf(m.id)));
    const changed = rows.filter((row) => before?.members.get(row.member) !== signature(row));
    const removed = [...(before?.members.keys() ?? [])].filter((id) => !group.members.has(id));
    if (before !== undefined && before.epoch === group.epoch && changed.length === 0 && removed.length === 0) return false;
    const now = Date.now();
    await this.#db.transaction(async (tx) => {
      await tx
        .insert(consumerGroups)
        .values({ group: group.name, epoch: group.epoch, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: consumerGroups.group, set: { epoch: group.epoch, updatedAt: now } });
      if (removed.length > 0) await tx.delete(consumerGroupMembers).where(and(eq(consumerGroupMembers.group, group.name), inArray(consumerGroupMembers.member, removed)));
      for (const row of changed) {
        const { group: _g, member: _m, ...columns } = row;
        await tx.insert(consumerGroupMembers).values(row).onConflictDoUpdate({ target: [consumerGroupMembers.group, consumerGroupMembers.member], set: columns });
      }
    });
    this.#written.set(group.name, { epoch: group.epoch, members: new Map(rows.map((row) => [row.member, signature(row)])) });
    invariant(this.#written.get(group.name)?.members.size === group.members.size, `group ${group.name}: saved rows do not match its members`);
    return true;
  }
}
