// Limits of stream compaction and of the latest-per-key index (docs/compaction.md): one
// declaration gives each its default, unit, range and meaning, like the other limits families.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const COMPACTION_LIMITS = defineLimits("compaction", {
  intervalMs: { default: 60_000, unit: "ms", min: 10, max: 86_400_000, doc: "How often the background compactor looks at the sealed segments of every compacted stream." },
  minRemovableRatio: { default: 0.5, unit: "fraction", min: 0, max: 1, doc: "A sealed segment is rewritten when at least this fraction of its records can be removed (superseded, or tombstones past their delay); 0 rewrites any segment with one removable record." },
  maxBytesPerPass: { default: 1 * GiB, unit: "bytes", min: 1, max: 1024 * GiB, doc: "Most bytes of sealed segments one compaction pass reads and rewrites (per stream); the next pass continues." },
  defaultTombstoneMs: { default: 86_400_000, unit: "ms", min: 0, max: 365 * 86_400_000, doc: "How long a tombstone (a record whose fields are null) is kept after the records it removes, when the stream does not say (`tombstone_ms`)." },
  maxLatestKeys: { default: 1_000_000, unit: "count", min: 1, max: 100_000_000, doc: "Most live keys a compacted stream's latest-per-key index holds; a publish that would add more is TOO_MANY_KEYS (400) and writes nothing." },
  maxLatestWaiters: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Most `latest` long-polls waiting at once, gateway-wide; past it UNAVAILABLE (503)." },
});

export type CompactionLimits = LimitValues<typeof COMPACTION_LIMITS.specs>;

export const DEFAULT_COMPACTION_LIMITS: CompactionLimits = COMPACTION_LIMITS.defaults;
