// Limits of the metrics computed at scrape time (docs/metrics.md): a scrape reads one record per
// lagging consumer-group partition to learn since when it lags, and lists groups, queues and
// devices; these bound that work whatever the number of groups, partitions and devices.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

export const METRICS_LIMITS = defineLimits("metrics", {
  maxLagGroupsPerScrape: { default: 1_000, unit: "count", min: 0, max: 1_000_000, doc: "Most consumer groups whose lag one scrape of /metrics computes (in name order); the rest get no lag series." },
  maxLagReadsPerScrape: { default: 1_000, unit: "count", min: 0, max: 1_000_000, doc: "Most records one scrape reads to date a lagging group partition's oldest uncommitted record (`strata_group_lag_seconds`); a partition whose committed offset has not moved since the last scrape reuses the date it read then; past the limit a partition gets no lag-seconds series." },
  maxQueueGroupsPerScrape: { default: 1_000, unit: "count", min: 0, max: 1_000_000, doc: "Most queue groups whose in-flight deliveries one scrape counts (`strata_queue_in_flight`)." },
  maxDevicesPerScrape: { default: 10_000, unit: "count", min: 0, max: 1_000_000, doc: "Most edge devices (in id order) whose outbox depth one scrape exports (`strata_edge_outbox_records`)." },
});

export type MetricsLimits = LimitValues<typeof METRICS_LIMITS.specs>;
