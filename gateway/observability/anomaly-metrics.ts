// Metrics of the anomaly flags (docs/anomalies.md), registered on the gateway's registry: every
// flag is counted here, published or not; the flags not published say why.
import type { MetricsRegistry } from "../metrics.ts";

export function createAnomalyMetrics(registry: MetricsRegistry) {
  return {
    flags: registry.counter("strata_anomalies_total", "Observations flagged as anomalies, by kind, stream and group or queue (empty when the kind has none).", ["kind", "stream", "group"]),
    unpublished: registry.counter("strata_anomalies_unpublished_total", "Flags counted but not written to _strata/anomalies: over anomalies.maxFlagsPerSecond (rate_limit) or the publish failed (publish_failed).", ["reason"]),
    untracked: registry.counter("strata_anomalies_untracked_total", "Series not estimated (over anomalies.maxEstimates) or deliveries forgotten before their commit or ack (over anomalies.maxTrackedDeliveries).", ["what"]),
  };
}

export type AnomalyMetrics = ReturnType<typeof createAnomalyMetrics>;
