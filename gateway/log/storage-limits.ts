// Every bound of the storage engine: one declaration gives each its default, unit, allowed range
// and meaning (README's limits table is generated from it). Limits are per partition unless
// noted. resolveLimits adds the engine's own checks between limits, so a nonsensical combination
// fails at start rather than under load.
import { BATCH_HEADER_SIZE } from "../../core/log/batch.ts";
import { StrataError } from "../../core/errors.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** S3's smallest and largest multipart part. */
const S3_MIN_PART_BYTES = 5 * MiB;
const S3_MAX_PART_BYTES = 5 * GiB;

/** Segment positions and relative offsets are u32 in the segment's footer index. */
const SEGMENT_ADDRESS_BYTES = 0xffff_ffff;

export const STORAGE_LIMITS = defineLimits("storage", {
  segmentBytes: { default: 64 * MiB, unit: "bytes", min: 1 * KiB, max: 2 * GiB, doc: "Seal the active segment once it holds this many bytes; at least maxBatchBytes." },
  segmentMs: { default: 10 * 60_000, unit: "ms", min: 1, max: 7 * 24 * 3_600_000, doc: "Seal a non-empty active segment this long after its first batch, so data reaches the object store." },
  groupCommitMs: { default: 2, unit: "ms", min: 0, max: 60_000, doc: "Longest an append queued behind a WAL write in flight waits for a free write slot to share (an append to an idle WAL is written at once); 0 = no wait." },
  groupCommitBytes: { default: 512 * KiB, unit: "bytes", min: 1, max: 64 * MiB, doc: "Pending bytes that start an fsync at once, without waiting groupCommitMs." },
  groupCommitMaxBytes: { default: 8 * MiB, unit: "bytes", min: 1, max: 1 * GiB, doc: "Most bytes one group commit writes (a single larger batch is written alone); at least groupCommitBytes." },
  walWritesInFlight: { default: 2, unit: "count", min: 1, max: 64, doc: "Group commits written at once per partition: the next is written while the previous syncs." },
  // The smallest useful batch: its header and one small record.
  maxBatchBytes: { default: 16 * MiB, unit: "bytes", min: 2 * BATCH_HEADER_SIZE, max: 1 * GiB, doc: "Largest batch (64-byte header and encoded records) one partition accepts per request; larger is BATCH_TOO_LARGE." },
  maxPendingBytes: { default: 64 * MiB, unit: "bytes", min: 1 * KiB, max: 64 * GiB, doc: "Bytes accepted but not yet fsynced, per partition; past this an append fails with UNAVAILABLE." },
  maxUnuploadedBytes: { default: 2 * GiB, unit: "bytes", min: 1 * KiB, max: 64 * TiB, doc: "Sealed bytes on local disk not yet in the object store; past this an append fails with UNAVAILABLE." },
  cacheBytes: { default: 1 * GiB, unit: "bytes", min: 0, max: 64 * TiB, doc: "Local segment cache, shared by all partitions." },
  memoryTailBytes: { default: 8 * MiB, unit: "bytes", min: 0, max: 64 * GiB, doc: "Recent batches kept in memory for hot readers, per partition (0: only the newest batch)." },
  readAheadBytes: { default: 4 * MiB, unit: "bytes", min: 0, max: 1 * GiB, doc: "Bytes fetched past the request for sequential readers of the object store." },
  rangeCacheBytes: { default: 64 * MiB, unit: "bytes", min: 0, max: 64 * GiB, doc: "In-memory cache of object-store ranges, shared by all partitions." },
  indexIntervalBytes: { default: 64 * KiB, unit: "bytes", min: 1, max: 64 * MiB, doc: "Distance between sparse index entries in a segment." },
  maxFetchBytes: { default: 16 * MiB, unit: "bytes", min: 64 * KiB, max: 1 * GiB, doc: "Upper bound of one read (a single larger batch is still returned whole); set from limits.maxFetchBytes (one read bound; a different value here fails start-up)." },
  maxWaiters: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Long-poll waiters per partition; past this a long-poll fails with UNAVAILABLE." },
  maxOffsetWaiters: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Appends per partition waiting for the object store (acks=durable), and retried batches waiting for their first copy's fsync, each; past this an append fails with UNAVAILABLE." },
  maxProducers: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Idempotent producers remembered per partition; the least recently used is forgotten first." },
  maxOpenWalFiles: { default: 256, unit: "count", min: 8, max: 1_000_000, doc: "WAL file descriptors kept open, shared by all partitions; idle ones are closed least recently used first and reopened on their next write or read (keep well under `ulimit -n`)." },
  uploadPartBytes: { default: 8 * MiB, unit: "bytes", min: S3_MIN_PART_BYTES, max: S3_MAX_PART_BYTES, doc: "Part size of multipart segment uploads (S3 allows 5 MiB to 5 GiB); smaller segments go up in one put." },
});

export type StorageLimits = LimitValues<typeof STORAGE_LIMITS.specs>;

export const DEFAULT_STORAGE_LIMITS: StorageLimits = STORAGE_LIMITS.defaults;

/**
 * Fills in defaults (an undefined override means the default) and checks each limit's range,
 * then the engine's checks between limits; throws BAD_REQUEST naming the first bad one.
 */
export function resolveLimits(overrides: Partial<StorageLimits> = {}): StorageLimits {
  const limits = STORAGE_LIMITS.resolve(overrides);
  const check = (ok: boolean, message: string): void => {
    if (!ok) throw new StrataError("BAD_REQUEST", `storage limits: ${message}`);
  };
  check(limits.segmentBytes >= limits.maxBatchBytes, "segmentBytes must be >= maxBatchBytes");
  // The ranges keep this true today; checked so that widening one of them cannot overflow the footer index.
  check(limits.segmentBytes + limits.maxBatchBytes < SEGMENT_ADDRESS_BYTES, "segmentBytes + maxBatchBytes must be < 4 GiB");
  check(limits.groupCommitMaxBytes >= limits.groupCommitBytes, "groupCommitMaxBytes must be >= groupCommitBytes");
  check(limits.maxPendingBytes >= limits.maxBatchBytes, "maxPendingBytes must be >= maxBatchBytes");
  check(limits.maxUnuploadedBytes >= limits.segmentBytes, "maxUnuploadedBytes must be >= segmentBytes");
  return limits;
}
