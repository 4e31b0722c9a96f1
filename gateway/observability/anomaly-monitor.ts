// The anomaly flags of one gateway, put together (docs/anomalies.md): the detector and its
// estimates, the processing-time tracker, the metrics and the publisher of `_strata/anomalies`.
// The composition root hands its hooks to the services: `log` to LogService (appends, and reads
// for a group), `groups` to GroupService (commits), `queues` to QueueService (claims, acks).
import type { MetricsRegistry } from "../metrics.ts";
import { AnomalyDetector } from "./anomaly-detector.ts";
import type { AnomalyLimits } from "./anomaly-limits.ts";
import { createAnomalyMetrics } from "./anomaly-metrics.ts";
import { ProcessingTracker, type GroupProcessingObserver, type QueueProcessingObserver } from "./anomaly-processing.ts";
import { AnomalyPublisher, type AnomalyAppend, type EnsureAnomalyStream } from "./anomaly-publisher.ts";

/** What the log service reports: each appended batch, and each read made for a consumer group. */
export interface LogAnomalyHooks {
  appended(stream: string, partition: number, records: number, bytes: number, baseOffset: number): void;
  delivered(group: string, stream: string, partition: number, from: number, next: number): void;
}

export interface AnomalyMonitor {
  readonly log: LogAnomalyHooks;
  readonly groups: GroupProcessingObserver;
  readonly queues: QueueProcessingObserver;
  /** Waits until the flags raised so far are written (tests). */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `append`: the gateway's own publish to `_strata/anomalies`, bound late (the log service is built
 * with these hooks); `ensureStream` creates the stream before the first one.
 */
export function createAnomalyMonitor(limits: AnomalyLimits, registry: MetricsRegistry, append: AnomalyAppend, ensureStream: EnsureAnomalyStream): AnomalyMonitor {
  const metrics = createAnomalyMetrics(registry);
  const publisher = new AnomalyPublisher(append, ensureStream, { maxPerSecond: limits.maxFlagsPerSecond, maxWaitMs: limits.maxPublishWaitMs }, metrics);
  const detector = new AnomalyDetector(limits, metrics, (flag) => publisher.offer(flag));
  const tracker = new ProcessingTracker(detector, limits.maxTrackedDeliveries, metrics);
  return {
    log: {
      appended: (stream, partition, records, bytes, baseOffset) => detector.appended(stream, partition, records, bytes, baseOffset),
      delivered: (group, stream, partition, from, next) => tracker.delivered(group, stream, partition, from, next),
    },
    groups: tracker,
    queues: tracker,
    flushed: () => publisher.flushed(),
    close: () => publisher.close(),
  };
}
