// Metrics of the work queues, registered on the gateway's registry, labelled by queue group and
// stream (the registry caps the series of each metric).
import type { MetricsRegistry } from "../metrics.ts";

export function createQueueMetrics(registry: MetricsRegistry) {
  return {
    deliveries: registry.counter("strata_queue_deliveries_total", "Records handed out by claims, first deliveries and redeliveries.", ["group", "stream"]),
    redeliveries: registry.counter("strata_queue_redeliveries_total", "Deliveries after a record's first.", ["group", "stream"]),
    acked: registry.counter("strata_queue_acked_total", "Records acked (settled).", ["group", "stream"]),
    nacked: registry.counter("strata_queue_nacked_total", "Deliveries nacked.", ["group", "stream"]),
    expired: registry.counter("strata_queue_expired_total", "Deliveries whose visibility timeout passed without an ack or nack.", ["group", "stream"]),
    deadLettered: registry.counter("strata_queue_dead_lettered_total", "Records published to their dead-letter stream (settled).", ["group", "stream"]),
    requestsPerCommit: registry.histogram("strata_queue_requests_per_commit", "Requests whose rows one metadata transaction (one fsync) wrote: above 1 when group commit engages.", [1, 2, 4, 8, 16, 64]),
  };
}

export type QueueMetrics = ReturnType<typeof createQueueMetrics>;
