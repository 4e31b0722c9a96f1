// Retention policy: which committed segments to remove. Always a prefix of the partition's
// segments (oldest first), so the log stays one contiguous range [start offset, end offset).
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
 */
export function planRetention(
  segments: readonly SegmentRow[],
  policy: RetentionPolicy,
  totalBytes: number,
  now: number,
): SegmentRow[] {
  const ms = policy.ms ?? null;
  const maxBytes = policy.bytes ?? null;
  const out: SegmentRow[] = [];
  let remaining = totalBytes;
  for (const seg of segments) {
    if (out.length >= MAX_SEGMENTS_PER_RUN) break;
    const expired = ms !== null && seg.maxTimestamp < now - ms;
    const overBytes = maxBytes !== null && remaining > maxBytes;
    if (!expired && !overBytes) break;
    out.push(seg);
    remaining -= seg.bytes;
  }
  return out;
}
