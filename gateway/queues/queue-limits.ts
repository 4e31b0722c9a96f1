// Bounds of the work queues: one declaration gives each its default, unit, range and meaning
// (docs/queues.md lists them).
import { StrataError } from "../../core/errors.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

export const QUEUE_LIMITS = defineLimits("queues", {
  maxQueues: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Queue groups the gateway keeps; a claim or configuration that would create one more is refused." },
  maxClaimRecords: { default: 1000, unit: "count", min: 1, max: 100_000, doc: "Records one claim may return (max_records is clamped to it)." },
  defaultClaimRecords: { default: 10, unit: "count", min: 1, max: 100_000, doc: "Records a claim returns when it names no max_records." },
  maxInFlightPerQueue: { default: 100_000, unit: "count", min: 1, max: 10_000_000, doc: "Records of one queue group in flight or awaiting redelivery; claims return nothing new past it." },
  maxStreamsPerClaim: { default: 32, unit: "count", min: 1, max: 1000, doc: "Streams one claim may list." },
  maxVisibilityMs: { default: 43_200_000, unit: "ms", min: 1000, max: 604_800_000, doc: "Longest visibility timeout a claim or a queue may ask for." },
  defaultVisibilityMs: { default: 30_000, unit: "ms", min: 1, max: 604_800_000, doc: "Visibility timeout of a new queue's claims that name none." },
  maxWaitMs: { default: 30_000, unit: "ms", min: 0, max: 600_000, doc: "Longest a claim may long-poll (wait_ms is clamped to it)." },
  maxErrorBytes: { default: 4096, unit: "bytes", min: 16, max: 1_048_576, doc: "UTF-8 bytes of a nack's error kept (longer texts are cut)." },
  maxDeliveriesCap: { default: 1000, unit: "count", min: 1, max: 1_000_000, doc: "Largest max_deliveries a queue may be configured with." },
  maxBackoffMs: { default: 3_600_000, unit: "ms", min: 0, max: 604_800_000, doc: "Largest backoff max_ms or nack delay_ms." },
});

export type QueueLimits = LimitValues<typeof QUEUE_LIMITS.specs>;

/** Defaults overlaid with `overrides`; BAD_REQUEST when a value is out of range or the visibility bounds disagree. */
export function resolveQueueLimits(overrides: Partial<QueueLimits> = {}): QueueLimits {
  const limits = QUEUE_LIMITS.resolve(overrides);
  if (limits.defaultVisibilityMs > limits.maxVisibilityMs) {
    throw new StrataError("BAD_REQUEST", `queues: defaultVisibilityMs (${limits.defaultVisibilityMs}) must be <= maxVisibilityMs (${limits.maxVisibilityMs})`);
  }
  if (limits.defaultClaimRecords > limits.maxClaimRecords) {
    throw new StrataError("BAD_REQUEST", `queues: defaultClaimRecords (${limits.defaultClaimRecords}) must be <= maxClaimRecords (${limits.maxClaimRecords})`);
  }
  return limits;
}
