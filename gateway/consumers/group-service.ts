// Committed consumer-group offsets (membership and rebalancing come later).
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { parseInput } from "../../core/util/parse-input.ts";
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

/**
 * A commit request, from any transport: the one source of its shape and of the typed client's
 * input. Ranges are the service's (INVALID_OFFSET, PARTITION_NOT_FOUND), not the schema's.
 */
export const commitOffsetSchema = z.object({
  stream: z.string(),
  /** 0 by default. */
  partition: z.number().nullish(),
  offset: z.number(),
});

export type CommitInput = z.input<typeof commitOffsetSchema>;

function assertGroup(group: string): void {
  if (!GROUP_NAME.test(group)) throw new StrataError("BAD_REQUEST", `group must match ${GROUP_NAME.source}`);
}

export class GroupService {
  private readonly db: MetadataDb;
  private readonly streams: StreamService;

  constructor(db: MetadataDb, streams: StreamService) {
    this.db = db;
    this.streams = streams;
  }

  async commit(group: string, input: CommitInput): Promise<CommittedOffset> {
    assertGroup(group);
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
    const row = { group, stream: config.name, partition, offset, updatedAt: Date.now() };
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
