// Metadata queries of the storage engine (drizzle on libSQL): committed segments, partition
// start offsets and producer-state snapshots. A segment row is the commit point of an upload;
// it is written together with the producer snapshot as of the segment's end, atomically.
import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import type { MetadataDb } from "../db/database.ts";
import { intakeRanges } from "../db/cluster-schema.ts";
import { partitions, producers, segments, streams } from "../db/schema.ts";
import { assertLeaseHeld, type LeaseFence, type MetadataTx } from "./lease-fence.ts";
import type { ProducerRow } from "./producer-state.ts";

export interface SegmentRow {
  readonly baseOffset: number;
  readonly endOffset: number;
  /** Object size: batches + index + trailer. */
  readonly bytes: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly objectKey: string;
}

export interface PartitionCatalog {
  readonly startOffset: number;
  /** Ascending by base offset. */
  readonly segments: SegmentRow[];
  readonly producers: ProducerRow[];
}

export interface StreamRow {
  readonly name: string;
  readonly partitions: number;
  readonly retentionMs: number | null;
  readonly retentionBytes: number | null;
}

/** Rows per INSERT statement when writing a producer snapshot (SQLite caps bound variables). */
const PRODUCER_ROWS_PER_INSERT = 100;

export class SegmentCatalog {
  constructor(private readonly db: MetadataDb) {}

  async listStreams(): Promise<StreamRow[]> {
    return this.db
      .select({ name: streams.name, partitions: streams.partitions, retentionMs: streams.retentionMs, retentionBytes: streams.retentionBytes })
      .from(streams)
      .orderBy(asc(streams.name));
  }

  /** Creates the partition row if missing (its stream row must exist). */
  async ensurePartition(stream: string, partition: number): Promise<void> {
    await this.db.insert(partitions).values({ stream, partition, startOffset: 0 }).onConflictDoNothing();
  }

  async load(stream: string, partition: number): Promise<PartitionCatalog> {
    const [start, segs, prods] = await Promise.all([
      this.db
        .select({ startOffset: partitions.startOffset })
        .from(partitions)
        .where(and(eq(partitions.stream, stream), eq(partitions.partition, partition))),
      this.db
        .select({
          baseOffset: segments.baseOffset,
          endOffset: segments.endOffset,
          bytes: segments.bytes,
          firstTimestamp: segments.firstTimestamp,
          maxTimestamp: segments.maxTimestamp,
          objectKey: segments.objectKey,
        })
        .from(segments)
        .where(and(eq(segments.stream, stream), eq(segments.partition, partition)))
        .orderBy(asc(segments.baseOffset)),
      this.db
        .select({ producerId: producers.producerId, epoch: producers.epoch, recent: producers.recent })
        .from(producers)
        .where(and(eq(producers.stream, stream), eq(producers.partition, partition))),
    ]);
    return { startOffset: start[0]?.startOffset ?? 0, segments: segs, producers: prods };
  }

  /**
   * Commits an uploaded segment with the producer snapshot as of its end offset, atomically.
   * Idempotent: recommitting the same segment (a retry after a crash) changes nothing. With a
   * `fence` (cluster mode) it runs in one write transaction that first checks the lease (LEASE_LOST
   * otherwise) and also drops the partition's intake ranges the segment now covers.
   */
  async commitSegment(stream: string, partition: number, row: SegmentRow, snapshot: readonly ProducerRow[], fence?: LeaseFence): Promise<void> {
    if (fence) {
      await this.db.transaction(async (tx) => {
        await assertLeaseHeld(tx, stream, partition, fence);
        await tx.insert(segments).values({ stream, partition, ...row, createdAt: Date.now() }).onConflictDoNothing();
        await tx.delete(producers).where(and(eq(producers.stream, stream), eq(producers.partition, partition)));
        for (let i = 0; i < snapshot.length; i += PRODUCER_ROWS_PER_INSERT) {
          const values = snapshot.slice(i, i + PRODUCER_ROWS_PER_INSERT).map((p) => ({ stream, partition, ...p, updatedAt: Date.now() }));
          await tx.insert(producers).values(values);
        }
        await tx
          .delete(intakeRanges)
          .where(and(eq(intakeRanges.stream, stream), eq(intakeRanges.partition, partition), lte(intakeRanges.endOffset, row.endOffset)));
      });
      return;
    }
    const now = Date.now();
    const insertSegment = this.db
      .insert(segments)
      .values({ stream, partition, ...row, createdAt: now })
      .onConflictDoNothing();
    const clear = this.db.delete(producers).where(and(eq(producers.stream, stream), eq(producers.partition, partition)));
    const inserts = [];
    for (let i = 0; i < snapshot.length; i += PRODUCER_ROWS_PER_INSERT) {
      const values = snapshot.slice(i, i + PRODUCER_ROWS_PER_INSERT).map((p) => ({ stream, partition, ...p, updatedAt: now }));
      inserts.push(this.db.insert(producers).values(values));
    }
    await this.db.batch([insertSegment, clear, ...inserts]);
  }

  /**
   * Points the row of `old` at its compacted rewrite (the compaction's commit point). False when
   * the row no longer names `old`'s object (retention removed it, or another rewrite won).
   */
  async replaceSegment(stream: string, partition: number, old: SegmentRow, replacement: SegmentRow, fence?: LeaseFence): Promise<boolean> {
    if (fence) {
      return this.db.transaction(async (tx) => {
        await assertLeaseHeld(tx, stream, partition, fence);
        const updated = await tx
          .update(segments)
          .set({ objectKey: replacement.objectKey, bytes: replacement.bytes })
          .where(and(eq(segments.stream, stream), eq(segments.partition, partition), eq(segments.baseOffset, old.baseOffset), eq(segments.objectKey, old.objectKey)))
          .returning({ baseOffset: segments.baseOffset });
        return updated.length === 1;
      });
    }
    const updated = await this.db
      .update(segments)
      .set({ objectKey: replacement.objectKey, bytes: replacement.bytes })
      .where(and(eq(segments.stream, stream), eq(segments.partition, partition), eq(segments.baseOffset, old.baseOffset), eq(segments.objectKey, old.objectKey)))
      .returning({ baseOffset: segments.baseOffset });
    return updated.length === 1;
  }

  /** Removes segment rows and moves the partition's start offset to `newStartOffset` (never back). */
  async deleteSegments(stream: string, partition: number, baseOffsets: readonly number[], newStartOffset: number, fence?: LeaseFence): Promise<void> {
    if (baseOffsets.length === 0) return;
    const deleteRows = (db: MetadataDb | MetadataTx) =>
      db.delete(segments).where(and(eq(segments.stream, stream), eq(segments.partition, partition), inArray(segments.baseOffset, [...baseOffsets])));
    const moveStart = (db: MetadataDb | MetadataTx) =>
      db
        .update(partitions)
        .set({ startOffset: sql`max(${partitions.startOffset}, ${newStartOffset})` })
        .where(and(eq(partitions.stream, stream), eq(partitions.partition, partition)));
    if (fence) {
      await this.db.transaction(async (tx) => {
        await assertLeaseHeld(tx, stream, partition, fence);
        await deleteRows(tx);
        await moveStart(tx);
      });
      return;
    }
    await this.db.batch([deleteRows(this.db), moveStart(this.db)]);
  }
}
