// Limits of server-side record filters (CEL expressions on reads, group consumption, queues and
// datasets): one declaration gives each its default, unit, range and meaning, like the service
// limits. They bound the expression itself and the work one request may spend evaluating it.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const FILTER_LIMITS = defineLimits("filters", {
  maxFilterBytes: { default: 4 * KiB, unit: "bytes", min: 64, max: 64 * KiB, doc: "Longest filter expression (UTF-8 bytes); a longer one is BAD_FILTER (400)." },
  maxFilterEvaluations: { default: 100_000, unit: "count", min: 1, max: 10_000_000, doc: "Most records one filtered read evaluates; past it the read answers what it found, with next_offset at the first record not evaluated." },
  maxFilterScanBytes: { default: 64 * MiB, unit: "bytes", min: 64 * KiB, max: 4 * GiB, doc: "Most stored record bytes one filtered read examines (at least one batch); past it the read answers what it found, with next_offset after the last record examined." },
  maxFilterComprehensionDepth: { default: 1, unit: "count", min: 0, max: 4, doc: "Deepest nesting of comprehension macros (all, exists, exists_one, map, filter) in a filter; deeper is BAD_FILTER (400). Bounds the evaluation cost per record to a power of its collection sizes." },
});

export type FilterLimits = LimitValues<typeof FILTER_LIMITS.specs>;

export const DEFAULT_FILTER_LIMITS: FilterLimits = FILTER_LIMITS.defaults;
