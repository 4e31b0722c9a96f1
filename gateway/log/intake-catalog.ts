// Metadata of the intake path of cluster mode (docs/cluster.md): the intake_objects row written
// before each PUT, the ranges committed after it (each insert conditioned on the partition's
// lease in the same write batch), and the reads of a partition's committed ranges by the next
// leader's rebuild.
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { MetadataDb } from "../db/database.ts";
import { intakeObjects, intakeRanges } from "../db/cluster-schema.ts";

/** Records [baseOffset, endOffset) of one partition at [position, position + length) of an intake object. */
export interface IntakeRange {
  readonly stream: string;
  readonly partition: number;
  readonly baseOffset: number;
  readonly endOffset: number;
  readonly objectKey: string;
  readonly position: number;
  readonly length: number;
  /** The lease epoch the range was written under. */
  readonly epoch: number;
}

/**
 * Records intake object keys before their PUTs (several ahead in one statement, so most PUTs need
 * no round trip of their own), so that an object whose ranges never commit is still found by the
 * sweeper. A key recorded but never PUT is swept like an orphan (deleting a missing object is a
 * no-op). Idempotent.
 */
export async function registerIntakeObjects(db: MetadataDb, objectKeys: readonly string[], node: string): Promise<void> {
  if (objectKeys.length === 0) return;
  const now = Date.now();
  await db.insert(intakeObjects).values(objectKeys.map((objectKey) => ({ objectKey, node, bytes: 0, createdAt: now }))).onConflictDoNothing();
}

/**
 * Commits the ranges of one intake object in one write batch, each insert conditioned on
 * `node` holding the range's partition with the range's epoch, and on the object's row still
 * being there (the sweeper deletes a row no range names before it deletes the object, so a
 * commit that comes after an orphan's sweep fails instead of naming a deleted object), and on
 * the range continuing the partition's committed ranges (or its segments' end), so committed
 * ranges can never have a gap, whatever failed before. Returns, per range, whether it committed
 * (false: fenced). A retry of a batch whose answer was lost finds its own rows and
 * reports them committed again (as long as the lease is still held).
 */
export async function commitIntakeRanges(db: MetadataDb, node: string, ranges: readonly IntakeRange[], objectBytes: ReadonlyMap<string, number> = new Map()): Promise<boolean[]> {
  if (ranges.length === 0) return [];
  const now = Date.now();
  const statements = ranges.map((r) =>
    db.all<{ base_offset: number }>(sql`
      INSERT INTO intake_ranges (stream, partition, base_offset, end_offset, object_key, position, length, epoch, created_at)
      SELECT ${r.stream}, ${r.partition}, ${r.baseOffset}, ${r.endOffset}, ${r.objectKey}, ${r.position}, ${r.length}, ${r.epoch}, ${now}
      WHERE EXISTS (SELECT 1 FROM partition_leases WHERE stream = ${r.stream} AND partition = ${r.partition} AND holder = ${node} AND epoch = ${r.epoch})
        AND EXISTS (SELECT 1 FROM intake_objects WHERE object_key = ${r.objectKey})
        AND (
          EXISTS (SELECT 1 FROM intake_ranges x WHERE x.stream = ${r.stream} AND x.partition = ${r.partition} AND x.end_offset = ${r.baseOffset})
          OR ${r.baseOffset} <= max(
            COALESCE((SELECT MAX(s.end_offset) FROM segments s WHERE s.stream = ${r.stream} AND s.partition = ${r.partition}), 0),
            COALESCE((SELECT p.start_offset FROM partitions p WHERE p.stream = ${r.stream} AND p.partition = ${r.partition}), 0)))
      ON CONFLICT (stream, partition, base_offset) DO UPDATE SET created_at = intake_ranges.created_at
        WHERE intake_ranges.object_key = excluded.object_key AND intake_ranges.end_offset = excluded.end_offset
      RETURNING base_offset`),
  );
  // The objects' sizes, unknown when their keys were recorded ahead, ride in the same batch.
  const sizes = [...objectBytes].map(([key, bytes]) => db.all<{ object_key: string }>(sql`UPDATE intake_objects SET bytes = ${bytes} WHERE object_key = ${key} RETURNING object_key`));
  const [first, ...rest] = statements;
  const results = await db.batch([first!, ...rest, ...sizes]);
  return results.slice(0, ranges.length).map((rows) => rows.length === 1);
}

/** The committed intake ranges of a partition that end past `from`, by base offset. */
export async function loadIntakeRanges(db: MetadataDb, stream: string, partition: number, from: number): Promise<IntakeRange[]> {
  return db
    .select({
      stream: intakeRanges.stream,
      partition: intakeRanges.partition,
      baseOffset: intakeRanges.baseOffset,
      endOffset: intakeRanges.endOffset,
      objectKey: intakeRanges.objectKey,
      position: intakeRanges.position,
      length: intakeRanges.length,
      epoch: intakeRanges.epoch,
    })
    .from(intakeRanges)
    .where(and(eq(intakeRanges.stream, stream), eq(intakeRanges.partition, partition), gt(intakeRanges.endOffset, from)))
    .orderBy(asc(intakeRanges.baseOffset));
}
