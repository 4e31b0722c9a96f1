// The metrics computed from the services' state before every scrape (docs/metrics.md), registered
// in one call from the composition root: consumer-group lag, queue deliveries in flight, edge
// outbox depth, and the process and build. The services are handed in through the small
// interfaces of each module, so this folder imports none of them.
import type { MetricsRegistry } from "../metrics.ts";
import { registerEdgeOutbox, type DeviceSource } from "./edge-metrics.ts";
import { GroupLagMetrics, type GroupLagSource, type RecordTimestamp } from "./group-lag-metrics.ts";
import type { MetricsLimits } from "./metrics-limits.ts";
import { registerProcessMetrics } from "./process-metrics.ts";
import { registerQueueInFlight, type QueueInFlightSource } from "./queue-in-flight-metrics.ts";

export interface OperationalSources {
  readonly registry: MetricsRegistry;
  readonly limits: MetricsLimits;
  readonly groups: GroupLagSource;
  /** Dates a group's first uncommitted record (a one-record read of the log service). */
  readonly recordTimestamp: RecordTimestamp;
  readonly queues: QueueInFlightSource;
  readonly fleet: DeviceSource;
}

export function registerOperationalMetrics(sources: OperationalSources): void {
  const { registry, limits } = sources;
  const groupLag = new GroupLagMetrics(registry, sources.groups, sources.recordTimestamp, limits);
  registry.onCollect(() => groupLag.collect());
  registerQueueInFlight(registry, sources.queues, limits);
  registerEdgeOutbox(registry, sources.fleet, limits);
  registerProcessMetrics(registry);
}
