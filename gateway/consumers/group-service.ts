// Committed consumer-group offsets (membership and rebalancing come later).
import { and, eq, sql } from "drizzle-orm";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { consumerOffsets } from "../db/schema.ts";
import type { StreamService } from "../streams/stream-service.ts";

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

export interface CommittedOffset {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly updated_at: number;
}

export interface CommitInput {
  readonly stream: unknown;
  readonly partition: unknown;
  readonly offset: unknown;
}

function assertGroup(group: string): void {
  if (!GROUP_NAME.test(group)) throw new StrataError("BAD_REQUEST", `group must match ${GROUP_NAME.source}`);
}

export class GroupService {
  constructor(
    private readonly db: MetadataDb,
    private readonly streams: StreamService,
  ) {}

  async commit(group: string, input: CommitInput): Promise<CommittedOffset> {
    assertGroup(group);
    if (typeof input.stream !== "string") throw new StrataError("BAD_REQUEST", "stream must be a string");
    const config = this.streams.require(input.stream);
    const partition = input.partition ?? 0;
    if (typeof partition !== "number") throw new StrataError("BAD_REQUEST", "partition must be an integer");
    this.streams.requirePartition(config, partition);
    const offset = input.offset;
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new StrataError("INVALID_OFFSET", "offset must be a non-negative integer");
    const row = { group, stream: config.name, partition, offset: offset as number, updatedAt: Date.now() };
    await this.db
      .insert(consumerOffsets)
      .values(row)
      .onConflictDoUpdate({
        target: [consumerOffsets.group, consumerOffsets.stream, consumerOffsets.partition],
        set: { offset: sql`excluded.offset`, updatedAt: sql`excluded.updated_at` },
      });
    return { stream: row.stream, partition, offset: row.offset, updated_at: row.updatedAt };
  }

  async get(group: string, stream?: string): Promise<CommittedOffset[]> {
    assertGroup(group);
    if (stream !== undefined) this.streams.require(stream);
    const rows = await this.db
      .select()
      .from(consumerOffsets)
      .where(stream === undefined ? eq(consumerOffsets.group, group) : and(eq(consumerOffsets.group, group), eq(consumerOffsets.stream, stream)))
      .orderBy(consumerOffsets.stream, consumerOffsets.partition);
    return rows.map((r) => ({ stream: r.stream, partition: r.partition, offset: r.offset, updated_at: r.updatedAt }));
  }
}
