// The storage engine's limits described for validation and the limits table: unit, range and
// meaning per key, defaults from gateway/log/storage-limits.ts (their one home). The mapped type
// makes a limit added there fail the typecheck here until it is described. resolveLimits keeps
// the engine's own cross-checks.
import { defineLimits, type LimitSpec } from "../../core/util/limit-spec.ts";
import { DEFAULT_STORAGE_LIMITS, type StorageLimits } from "../log/storage-limits.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

type Described = Omit<LimitSpec, "default">;

const DESCRIBED: { readonly [K in keyof StorageLimits]: Described } = {
  segmentBytes: { unit: "bytes", min: 1 * KiB, max: 2 * GiB, doc: "Seal the active segment once it holds this many bytes; at least maxBatchBytes." },
  segmentMs: { unit: "ms", min: 1, max: 7 * 24 * 3_600_000, doc: "Seal a non-empty active segment this long after its first batch, so data reaches the object store." },
  groupCommitMs: { unit: "ms", min: 0, max: 1000, doc: "Longest a small append waits for others to share its fsync; 0 = fsync at once." },
  groupCommitBytes: { unit: "bytes", min: 1, max: 64 * MiB, doc: "Pending bytes that start an fsync at once, without waiting groupCommitMs." },
  groupCommitMaxBytes: { unit: "bytes", min: 1, max: 1 * GiB, doc: "Most bytes one group commit writes (a single larger batch is written alone); at least groupCommitBytes." },
  walWritesInFlight: { unit: "count", min: 1, max: 64, doc: "Group commits written at once per partition: the next is written while the previous syncs." },
  maxBatchBytes: { unit: "bytes", min: 1 * KiB, max: 1 * GiB, doc: "Largest batch (64-byte header and encoded records) one partition accepts per request; larger is BATCH_TOO_LARGE." },
  maxPendingBytes: { unit: "bytes", min: 1 * KiB, max: 64 * GiB, doc: "Bytes accepted but not yet fsynced, per partition; past this an append fails with UNAVAILABLE." },
  maxUnuploadedBytes: { unit: "bytes", min: 1 * KiB, max: 64 * TiB, doc: "Sealed bytes on local disk not yet in the object store; past this an append fails with UNAVAILABLE." },
  cacheBytes: { unit: "bytes", min: 0, max: 64 * TiB, doc: "Local segment cache, shared by all partitions." },
  memoryTailBytes: { unit: "bytes", min: 0, max: 64 * GiB, doc: "Recent batches kept in memory for hot readers, per partition." },
  readAheadBytes: { unit: "bytes", min: 0, max: 1 * GiB, doc: "Bytes fetched past the request for sequential readers of the object store." },
  rangeCacheBytes: { unit: "bytes", min: 0, max: 64 * GiB, doc: "In-memory cache of object-store ranges, shared by all partitions." },
  indexIntervalBytes: { unit: "bytes", min: 1, max: 64 * MiB, doc: "Distance between sparse index entries in a segment." },
  maxFetchBytes: { unit: "bytes", min: 64 * KiB, max: 1 * GiB, doc: "Upper bound of one read; set from limits.maxFetchBytes (one read bound; a different value here fails start-up)." },
  maxWaiters: { unit: "count", min: 1, max: 1_000_000, doc: "Long-poll waiters per partition; past this a long-poll fails with UNAVAILABLE." },
  maxOffsetWaiters: { unit: "count", min: 1, max: 1_000_000, doc: "Appends per partition waiting for the object store (acks=durable), and retried batches waiting for their first copy's fsync, each; past this an append fails with UNAVAILABLE." },
  maxProducers: { unit: "count", min: 1, max: 1_000_000, doc: "Idempotent producers remembered per partition; the least recently used is forgotten first." },
  uploadPartBytes: { unit: "bytes", min: 5 * MiB, max: 5 * GiB, doc: "Part size of multipart segment uploads (S3 allows 5 MiB to 5 GiB); smaller segments go up in one put." },
};

type StorageSpecs = { readonly [K in keyof StorageLimits]: LimitSpec };

function withDefaults(): StorageSpecs {
  const specs: Partial<Record<keyof StorageLimits, LimitSpec>> = {};
  for (const key of Object.keys(DESCRIBED) as (keyof StorageLimits)[]) specs[key] = { ...DESCRIBED[key], default: DEFAULT_STORAGE_LIMITS[key] };
  return specs as StorageSpecs;
}

export const STORAGE_LIMITS = defineLimits("storage", withDefaults());
