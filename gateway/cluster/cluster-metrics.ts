// Prometheus metrics of cluster mode: how many partitions this gateway leads, and how leases
// move (grants, hand-overs, losses) and how often renewing them failed.
import type { MetricsRegistry } from "../metrics.ts";

export function createClusterMetrics(registry: MetricsRegistry) {
  return {
    partitionsLed: registry.gauge("strata_cluster_partitions_led", "Partitions this gateway leads now."),
    leaseGrants: registry.counter("strata_cluster_lease_grants_total", "Partition leases granted to this gateway (each a new epoch)."),
    handOvers: registry.counter("strata_cluster_lease_handovers_total", "Partitions handed over cleanly to their owner (rebalance, stop)."),
    leaseLosses: registry.counter("strata_cluster_lease_losses_total", "Partitions resigned as lost: lease taken or moved, a commit fenced, or no renewal before the local deadline."),
    renewalFailures: registry.counter("strata_cluster_lease_renewal_failures_total", "Lease renewal rounds that failed (the metadata database did not answer)."),
  };
}

export type ClusterMetrics = ReturnType<typeof createClusterMetrics>;
