// Work-queue deliveries claimed and not yet acked, nacked or expired (docs/metrics.md), per queue
// group and stream, counted before every scrape from the queue service's state (the queues'
// redelivery and dead-letter counters are gateway/queues/queue-metrics.ts).
import { isStrataError } from "../../core/errors.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type { MetricsLimits } from "./metrics-limits.ts";

/** What the gauge reads (QueueService, structurally). */
export interface QueueInFlightSource {
  list(): readonly { readonly group: string }[];
  describe(group: string): { readonly partitions: readonly { readonly stream: string; readonly in_flight: number }[] };
}

export function registerQueueInFlight(registry: MetricsRegistry, queues: QueueInFlightSource, limits: Pick<MetricsLimits, "maxQueueGroupsPerScrape">): void {
  const inFlight = registry.gauge("strata_queue_in_flight", "Queue deliveries claimed and not yet acked, nacked or expired, per queue group and stream.", ["group", "stream"]);
  registry.onCollect(() => {
    inFlight.reset();
    const groups = [...queues.list()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    for (const { group } of groups.slice(0, limits.maxQueueGroupsPerScrape)) {
      let partitions: readonly { readonly stream: string; readonly in_flight: number }[];
      try {
        ({ partitions } = queues.describe(group));
      } catch (e) {
        if (isStrataError(e)) continue; // gone since list(), or the coordinator moved
        throw e;
      }
      const byStream = new Map<string, number>();
      for (const p of partitions) byStream.set(p.stream, (byStream.get(p.stream) ?? 0) + p.in_flight);
      for (const [stream, n] of byStream) inFlight.set({ group, stream }, n);
    }
  });
}
