// Retention: which committed segments to remove, and removing them. Always a prefix of the
// partition's segments (oldest first), so the log stays one contiguous range [start offset, end offset).
import type { PartitionContext } from "./partition-context.ts";
import { cachePath } from "./partition-recovery.ts";
import { dropOldestCommitted, heldBytes, type PartitionState } from "./partition-state.ts";
import type { SegmentRow } from "./segment-catalog.ts";

export interface RetentionPolicy {
  /** Remove segments whose newest record is older than now - ms. */
  readonly ms?: number | null;
  /** Remove oldest segments while the partition holds more than this many bytes. */
  readonly bytes?: number | null;
}

/** Segments removed per run at most, so one metadata batch stays small; the next run continues. */
export const MAX_SEGMENTS_PER_RUN = 500;

/**
 * The oldest segments to delete. `totalBytes` is everything the partition holds (committed
 * segments plus local, not yet uploaded data); only committed segments are ever removed.
 * `pinnedFloor` (the least offset a live dataset version pins) stops it before the first
 * segment that holds that offset or a later one, whatever the policy says.
 */
export function planRetention(
  segments: readonly SegmentRow[],
  policy: RetentionPolicy,
  totalBytes: number,
  now: number,
  pinnedFloor?: number,
): SegmentRow[] {
  const ms = policy.ms ?? null;
  const maxBytes = policy.bytes ?? null;
  const out: SegmentRow[] = [];
  let remaining = totalBytes;
  for (const seg of segments) {
    if (out.length >= MAX_SEGMENTS_PER_RUN) break;
    if (pinnedFloor !== undefined && seg.endOffset > pinnedFloor) break;
    const expired = ms !== null && seg.maxTimestamp < now - ms;
    const overBytes = maxBytes !== null && remaining > maxBytes;
    if (!expired && !overBytes) break;
    out.push(seg);
    remaining -= seg.bytes;
  }
  return out;
}

/**
 * Removes the committed segments past `policy`: catalog rows first (once they are gone nobody
 * reads these objects, so a crash before the object deletes leaves only garbage, never a
 * dangling row), then the objects, then the cache files and cached footers and ranges.
 */
export async function applyRetention(ctx: PartitionContext, state: PartitionState, policy: RetentionPolicy, now: number): Promise<void> {
  const doomed = planRetention(state.committed, policy, heldBytes(state), now, ctx.pinnedFloor?.());
  if (doomed.length === 0) return;
  const newStart = doomed[doomed.length - 1]!.endOffset;
  await ctx.catalog.deleteSegments(ctx.stream, ctx.partition, doomed.map((s) => s.baseOffset), newStart, ctx.cluster?.fence);
  dropOldestCommitted(state, doomed, newStart);
  try {
    await ctx.objectStore.deleteMany(doomed.map((s) => s.objectKey));
  } catch (e) {
    ctx.onBackgroundError(e, `retention delete of ${doomed.length} segment objects of ${ctx.stream}/${ctx.partition}`);
  }
  for (const s of doomed) {
    ctx.cache.remove(cachePath(ctx.dir, s.baseOffset), true);
    ctx.remote.forget(s.objectKey);
  }
}
