// One compaction pass over the committed (sealed, uploaded) segments of one partition, oldest
// first (docs/compaction.md). Crash-safe by ordering: the rewritten segment is put under a new
// object key, then the catalog row is swapped to it in one metadata statement, then the old object
// is deleted. A process killed before the swap leaves the old row and object as they were (the new
// object is an orphan, removed by the next pass); killed after it, the old object is the orphan.
//
// Each segment goes idle -> writing -> swapping -> deleting -> idle; the transitions are asserted.
import { getLogger } from "@logtape/logtape";
import { invariant } from "../../core/errors.ts";
import type { PartitionContext } from "./partition-context.ts";
import { cachePath } from "./partition-recovery.ts";
import { replaceCommitted, type PartitionState } from "./partition-state.ts";
import { decideSegment, decodeSegment, encodeCompactedSegment, keyText, type CompactionJudge } from "./compaction-segment.ts";
import { formatBaseOffset, segmentObjectKey } from "./segment-format.ts";
import type { SegmentRow } from "./segment-catalog.ts";

const log = getLogger(["strata", "compaction"]);

export interface CompactionPolicy {
  /** Rewrite a segment when at least this fraction of its records can go (and at least one). */
  readonly minRemovableRatio: number;
  /** Bytes of segments read per pass at most (the first segment is always read). */
  readonly maxBytesPerPass: number;
  /** Tombstones with a timestamp before this may be removed. */
  readonly tombstoneBefore: number;
}

export interface CompactionOutcome {
  readonly segmentsRewritten: number;
  readonly recordsRemoved: number;
  readonly bytesRead: number;
}

/** Where a pass stands with the segment it is rewriting. */
export type CompactionRunState =
  | { readonly kind: "idle" }
  | { readonly kind: "writing"; readonly segment: SegmentRow; readonly newKey: string }
  | { readonly kind: "swapping"; readonly segment: SegmentRow; readonly replacement: SegmentRow }
  | { readonly kind: "deleting"; readonly oldKey: string };

/**
 * Test-only fault points: STRATA_TEST_COMPACTION_KILL=<state> kills the process with SIGKILL on
 * entering that state's next step (after the new object is written, after the swap), so a crash
 * test can stop a real gateway exactly there. Unset in production.
 */
const KILL_AT = process.env.STRATA_TEST_COMPACTION_KILL;

/** Key of a rewritten segment: the segment's key with the time of the rewrite, so each rewrite gets a fresh object. */
export function compactedObjectKey(stream: string, partition: number, baseOffset: number, generation: number): string {
  return segmentObjectKey(stream, partition, baseOffset).replace(/\.seg$/, `.c${generation}.seg`);
}

/** Prefix of every segment object of a partition. */
const partitionPrefix = (stream: string, partition: number) => segmentObjectKey(stream, partition, 0).replace(/[0-9]{20}\.seg$/, "");

class CompactionRun {
  private state: CompactionRunState = { kind: "idle" };

  private to(next: CompactionRunState): void {
    const from = this.state.kind;
    const allowed: Record<CompactionRunState["kind"], CompactionRunState["kind"]> = { idle: "writing", writing: "swapping", swapping: "deleting", deleting: "idle" };
    // swapping -> idle: the swap found the segment gone (retention removed it meanwhile).
    invariant(allowed[from] === next.kind || (from === "swapping" && next.kind === "idle"), `compaction goes ${from} -> ${next.kind}`);
    this.state = next;
    if (KILL_AT !== undefined && KILL_AT === next.kind) process.kill(process.pid, "SIGKILL");
  }

  constructor(
    private readonly ctx: PartitionContext,
    private readonly partition: PartitionState,
  ) {}

  /** Replaces `segment` by the rewritten `bytes`; false when the segment left the catalog meanwhile. */
  async rewrite(segment: SegmentRow, bytes: Uint8Array): Promise<boolean> {
    const { ctx } = this;
    const newKey = compactedObjectKey(ctx.stream, ctx.partition, segment.baseOffset, Date.now());
    this.to({ kind: "writing", segment, newKey });
    await ctx.objectStore.put(newKey, bytes);
    const replacement: SegmentRow = { ...segment, bytes: bytes.length, objectKey: newKey };
    this.to({ kind: "swapping", segment, replacement });
    // The cache file holds the old bytes under the same base offset: drop it before the swap, so no
    // reader (nor a restart, which adopts cache files by base offset and size) pairs it with the new row.
    ctx.cache.remove(cachePath(ctx.dir, segment.baseOffset), true);
    const swapped = await ctx.catalog.replaceSegment(ctx.stream, ctx.partition, segment, replacement, ctx.cluster?.fence);
    if (!swapped || !replaceCommitted(this.partition, segment, replacement)) {
      this.to({ kind: "idle" });
      await ctx.objectStore.delete(newKey);
      return false;
    }
    ctx.remote.forget(segment.objectKey);
    this.to({ kind: "deleting", oldKey: segment.objectKey });
    await ctx.objectStore.delete(segment.objectKey);
    this.to({ kind: "idle" });
    return true;
  }
}

/** Removes segment objects of this partition that no catalog row names (left by a killed pass). */
async function removeOrphans(ctx: PartitionContext, state: PartitionState): Promise<void> {
  const named = new Set(state.committed.map((s) => s.objectKey));
  const pendingBases = new Set(state.pending.map((p) => formatBaseOffset(p.file.baseOffset)));
  const orphans: string[] = [];
  for await (const object of ctx.objectStore.list(partitionPrefix(ctx.stream, ctx.partition))) {
    // Only rewritten segments' keys (".c<generation>.seg") and superseded originals of committed
    // bases: a plain key of a pending (not yet committed) segment is an upload in flight.
    const compacted = /\.c[0-9]+\.seg$/.test(object.key);
    const base = object.key.slice(-24, -4);
    const originalOfCompacted = !compacted && state.committed.some((s) => formatBaseOffset(s.baseOffset) === base && s.objectKey !== object.key);
    if (!named.has(object.key) && (compacted || originalOfCompacted) && !pendingBases.has(base)) orphans.push(object.key);
  }
  if (orphans.length === 0) return;
  log.info("removing {count} segment objects of {stream}/{partition} left by an interrupted compaction", { count: orphans.length, stream: ctx.stream, partition: ctx.partition });
  await ctx.objectStore.deleteMany(orphans);
  for (const key of orphans) ctx.remote.forget(key);
}

/**
 * One pass: every committed segment oldest first, within maxBytesPerPass; a segment is rewritten
 * when enough of its records can go. Tombstones are removed only when no earlier segment still
 * holds a record of their key (checked over the segments as this pass leaves them).
 */
export async function compactPartition(ctx: PartitionContext, state: PartitionState, judge: CompactionJudge, policy: CompactionPolicy): Promise<CompactionOutcome> {
  await removeOrphans(ctx, state);
  const run = new CompactionRun(ctx, state);
  const olderKeys = new Set<string>();
  let segmentsRewritten = 0;
  let recordsRemoved = 0;
  let bytesRead = 0;
  for (const segment of [...state.committed]) {
    if (bytesRead > 0 && bytesRead + segment.bytes > policy.maxBytesPerPass) break;
    const bytes = await ctx.objectStore.get(segment.objectKey);
    bytesRead += bytes.length;
    const batches = decodeSegment(bytes, segment);
    const decision = decideSegment(batches, segment, ctx.partition, judge, policy.tombstoneBefore, olderKeys);
    const removable = decision.total - decision.kept.size;
    const rewrite = removable > 0 && removable >= policy.minRemovableRatio * decision.total;
    if (rewrite && (await run.rewrite(segment, encodeCompactedSegment(batches, segment, decision.kept, ctx.limits.indexIntervalBytes)))) {
      segmentsRewritten++;
      recordsRemoved += removable;
      for (const t of decision.tombstones) judge.tombstoneRemoved(t.key!, ctx.partition, t.offset);
      for (const b of batches) for (const r of b.records) if (r.key && decision.kept.has(r.offset)) olderKeys.add(keyText(r.key));
    } else {
      for (const b of batches) for (const r of b.records) if (r.key) olderKeys.add(keyText(r.key));
    }
  }
  return { segmentsRewritten, recordsRemoved, bytesRead };
}
