// Limits of the anomaly flags (docs/anomalies.md): how many observations an estimate needs before
// it flags anything, how far outside it an observation must fall, and how many flags per second
// the gateway publishes to `_strata/anomalies`; the estimates' memory and the processing-time bounds.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

export const ANOMALY_LIMITS = defineLimits("anomalies", {
  minSamples: { default: 50, unit: "count", min: 2, max: 1_000_000, doc: "Observations an estimate (a stream's record size or rate, a group's or queue's processing time) needs before it flags anything." },
  sigmas: { default: 6, unit: "count", min: 1, max: 1_000, doc: "How many standard deviations above its running mean an observation must be to be flagged." },
  maxFlagsPerSecond: { default: 10, unit: "count", min: 1, max: 100_000, doc: "Most anomaly records the gateway publishes to `_strata/anomalies` per second; the rest are only counted." },
  window: { default: 1_000, unit: "count", min: 2, max: 1_000_000, doc: "Effective window of an estimate: the running mean and variance weigh the newest observation 1/min(n, window) (exact over the first `window` observations, exponentially weighted after)." },
  stddevFloor: { default: 0.1, unit: "fraction", min: 0, max: 100, doc: "Smallest standard deviation the rule uses, as a fraction of the mean, so that a nearly constant series does not flag every small change." },
  rateIntervalMs: { default: 1_000, unit: "ms", min: 100, max: 3_600_000, doc: "Interval over which a stream's publish rate (records per second) is measured; each interval with records is one observation." },
  minProcessingMs: { default: 100, unit: "ms", min: 0, max: 86_400_000, doc: "A group's or queue's processing time at or below this is never flagged, however far above its mean." },
  maxProcessingMs: { default: 0, unit: "ms", min: 0, max: 86_400_000, doc: "A processing time above this is always flagged, warming or not (0: off)." },
  maxEstimates: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Estimates (streams, groups, queues) the gateway keeps; past it new ones are not tracked." },
  maxTrackedDeliveries: { default: 100_000, unit: "count", min: 1, max: 10_000_000, doc: "Fetches and claims remembered until their commit or ack (the start of a processing time); the oldest is forgotten past it." },
  maxPublishWaitMs: { default: 10_000, unit: "ms", min: 0, max: 600_000, doc: "How long a batch of flags is retried while `_strata/anomalies` cannot take it for a passing reason (cluster mode: its partition not led yet, a lease moving) before it is counted as not published." },
  streamRetentionMs: { default: 604_800_000, unit: "ms", min: 60_000, max: 31_536_000_000, doc: "How long `_strata/anomalies` keeps its flags (its retention, set when the gateway creates the stream)." },
  maxPageRecords: { default: 1_000, unit: "count", min: 1, max: 100_000, doc: "Most flags one `GET /v1/anomalies` answers." },
});

export type AnomalyLimits = LimitValues<typeof ANOMALY_LIMITS.specs>;
