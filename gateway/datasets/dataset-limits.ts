// Limits of the datasets subsystem: one declaration gives each its default, unit, range and
// meaning, like the service limits (docs/datasets.md).
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const DATASET_LIMITS = defineLimits("datasets", {
  maxDatasetVersions: { default: 100_000, unit: "count", min: 1, max: 10_000_000, doc: "Most live dataset versions, gateway-wide (every version pins log data against retention)." },
  maxFilteredSamples: { default: 10_000_000, unit: "count", min: 1, max: 100_000_000, doc: "Most matching samples a filtered version holds; a create past it is BAD_REQUEST (400) and stores nothing." },
  maxCreateScanMs: { default: 120_000, unit: "ms", min: 100, max: 3_600_000, doc: "Longest scan of a filtered create; past it the create is BAD_REQUEST (400) and stores nothing." },
  targetSpanBytes: { default: 2 * MiB, unit: "bytes", min: 1, max: 1 * GiB, doc: "The default span is about this many bytes of samples: span_samples = round(targetSpanBytes / average sample bytes), clamped to [1, 65536]." },
  defaultSampleBytes: { default: 16 * MiB, unit: "bytes", min: 1, max: 1 * GiB, doc: "Bytes of samples a sample read returns when it does not say (`max_bytes`; at least one sample)." },
  maxSampleBytes: { default: 64 * MiB, unit: "bytes", min: 64 * KiB, max: 1 * GiB, doc: "Most bytes of samples one sample read returns (at least one sample whatever its size)." },
  maxSampleCount: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Most samples one sample read returns (`count`, or the length of `indexes`, which may not be longer)." },
  matchCacheBytes: { default: 64 * MiB, unit: "bytes", min: 0, max: 16 * GiB, doc: "Memory for the decoded match offsets of filtered versions (8 bytes a sample), least recently used first out." },
});

export type DatasetLimits = LimitValues<typeof DATASET_LIMITS.specs>;

export const DEFAULT_DATASET_LIMITS: DatasetLimits = DATASET_LIMITS.defaults;
