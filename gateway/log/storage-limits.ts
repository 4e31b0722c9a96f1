// Every bound of the storage engine, with its default. Limits are per partition unless noted;
// validateLimits rejects nonsensical combinations at start rather than failing under load.
import { StrataError } from "../../core/errors.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface StorageLimits {
  /** Seal the active segment once it holds this many bytes (64 MiB). Must be >= maxBatchBytes. */
  readonly segmentBytes: number;
  /** Seal a non-empty active segment this long after its first batch (10 min), so data reaches the object store. */
  readonly segmentMs: number;
  /** Longest a small append waits for others to share its fsync (2 ms). 0 = fsync at once. */
  readonly groupCommitMs: number;
  /** Pending bytes that start an fsync at once, without waiting groupCommitMs (512 KiB). */
  readonly groupCommitBytes: number;
  /** Most bytes one group commit writes (8 MiB); a single larger batch is written alone. Must be >= groupCommitBytes. */
  readonly groupCommitMaxBytes: number;
  /** Group commits written at once per partition (2): the next is written while the previous syncs. */
  readonly walWritesInFlight: number;
  /** Largest batch (64-byte header + encoded records) append accepts (16 MiB); larger → BATCH_TOO_LARGE. */
  readonly maxBatchBytes: number;
  /** Bytes accepted but not yet fsynced; past this append fails with UNAVAILABLE (64 MiB). */
  readonly maxPendingBytes: number;
  /** Sealed bytes on local disk not yet in the object store; past this append fails with UNAVAILABLE (2 GiB). */
  readonly maxUnuploadedBytes: number;
  /** Local segment cache bound, shared by all partitions of a gateway (1 GiB). */
  readonly cacheBytes: number;
  /** Recent batches kept in memory for hot readers (8 MiB). */
  readonly memoryTailBytes: number;
  /** Bytes fetched past the request for sequential readers of the object store (4 MiB). */
  readonly readAheadBytes: number;
  /** In-memory cache of object-store ranges, shared by all partitions (64 MiB). */
  readonly rangeCacheBytes: number;
  /** Distance between sparse index entries in a segment (64 KiB). */
  readonly indexIntervalBytes: number;
  /** Upper bound on one read's maxBytes (16 MiB); a single larger batch is still returned whole. */
  readonly maxFetchBytes: number;
  /** Long-poll waiters per partition (10,000); past this waitForData fails with UNAVAILABLE. */
  readonly maxWaiters: number;
  /**
   * Appends per partition waiting for their offsets to reach the object store (acks=durable), and
   * retried batches waiting for their first copy's fsync, each (10,000); past this append fails with UNAVAILABLE.
   */
  readonly maxOffsetWaiters: number;
  /** Idempotent producers remembered per partition (10,000); the least recently used is forgotten first. */
  readonly maxProducers: number;
  /** Part size for multipart segment uploads; smaller segments go up in one put (8 MiB). */
  readonly uploadPartBytes: number;
}

export const DEFAULT_STORAGE_LIMITS: StorageLimits = Object.freeze({
  segmentBytes: 64 * MiB,
  segmentMs: 10 * 60_000,
  groupCommitMs: 2,
  groupCommitBytes: 512 * KiB,
  groupCommitMaxBytes: 8 * MiB,
  walWritesInFlight: 2,
  maxBatchBytes: 16 * MiB,
  maxPendingBytes: 64 * MiB,
  maxUnuploadedBytes: 2 * GiB,
  cacheBytes: 1 * GiB,
  memoryTailBytes: 8 * MiB,
  readAheadBytes: 4 * MiB,
  rangeCacheBytes: 64 * MiB,
  indexIntervalBytes: 64 * KiB,
  maxFetchBytes: 16 * MiB,
  maxWaiters: 10_000,
  maxOffsetWaiters: 10_000,
  maxProducers: 10_000,
  uploadPartBytes: 8 * MiB,
});

/** Limits that may be 0: no linger, no local cache, no memory tail (beyond the newest batch), no read-ahead. */
const ZERO_ALLOWED = new Set(["groupCommitMs", "cacheBytes", "memoryTailBytes", "readAheadBytes", "rangeCacheBytes"]);

/** Fills in defaults and checks every limit; throws BAD_REQUEST naming the first bad one. */
export function resolveLimits(overrides: Partial<StorageLimits> = {}): StorageLimits {
  const limits: StorageLimits = { ...DEFAULT_STORAGE_LIMITS, ...stripUndefined(overrides) };
  for (const [name, value] of Object.entries(limits)) {
    const min = ZERO_ALLOWED.has(name) ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new StrataError("BAD_REQUEST", `storage limit ${name} must be an integer >= ${min}, got ${String(value)}`);
    }
  }
  const check = (ok: boolean, message: string): void => {
    if (!ok) throw new StrataError("BAD_REQUEST", `storage limits: ${message}`);
  };
  check(limits.segmentBytes >= limits.maxBatchBytes, "segmentBytes must be >= maxBatchBytes");
  // Segment positions and relative offsets are u32 in the footer index.
  check(limits.segmentBytes + limits.maxBatchBytes < 0xffff_ffff, "segmentBytes + maxBatchBytes must be < 4 GiB");
  check(limits.groupCommitMaxBytes >= limits.groupCommitBytes, "groupCommitMaxBytes must be >= groupCommitBytes");
  check(limits.walWritesInFlight <= 64, "walWritesInFlight must be <= 64");
  check(limits.maxPendingBytes >= limits.maxBatchBytes, "maxPendingBytes must be >= maxBatchBytes");
  check(limits.maxUnuploadedBytes >= limits.segmentBytes, "maxUnuploadedBytes must be >= segmentBytes");
  check(limits.uploadPartBytes >= 5 * MiB, "uploadPartBytes must be >= 5 MiB (S3 minimum part size)");
  return Object.freeze(limits);
}

function stripUndefined(o: Partial<StorageLimits>): Partial<StorageLimits> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<StorageLimits>;
}
