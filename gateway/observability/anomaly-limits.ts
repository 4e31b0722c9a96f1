// Limits of the anomaly flags (docs/anomalies.md): how many observations an estimate needs before
// it flags anything, how far outside it an observation must fall, and how many flags per second
// the gateway publishes to `_strata/anomalies`.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

export const ANOMALY_LIMITS = defineLimits("anomalies", {
  minSamples: { default: 50, unit: "count", min: 2, max: 1_000_000, doc: "Observations an estimate (a stream's record size or rate, a group's or queue's processing time) needs before it flags anything." },
  sigmas: { default: 6, unit: "count", min: 1, max: 1_000, doc: "How many standard deviations above its running mean an observation must be to be flagged." },
  maxFlagsPerSecond: { default: 10, unit: "count", min: 1, max: 100_000, doc: "Most anomaly records the gateway publishes to `_strata/anomalies` per second; the rest are only counted." },
});

export type AnomalyLimits = LimitValues<typeof ANOMALY_LIMITS.specs>;
