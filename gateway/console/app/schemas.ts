// The shapes of the API answers the console reads. Where a service already has a zod schema for
// its answers (groups, datasets, versions, the fleet) it is reused from its wire module; the rest
// (streams, reads, queues, anomalies) are written here from their route's documented answer
// (docs/*.md), kept loose (extra keys pass) so a newer gateway does not break an older page.
import { z } from "zod";

export { groupDescriptionSchema, groupListSchema, type GroupDescription } from "../../consumers/group-wire.ts";
export { datasetDescriptionSchema, datasetListSchema } from "../../datasets/dataset-wire.ts";
export { versionListSchema } from "../../streams/versions-wire.ts";
export { deviceListSchema, rolloutListSchema } from "../../fleet/fleet-wire.ts";

const count = z.number().int().min(0);

export const apiErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export const streamInfoSchema = z.object({
  name: z.string(),
  partitions: z.array(z.object({ partition: count, start_offset: count, end_offset: count, bytes: count })),
  retention: z.object({ ms: z.number().nullable(), bytes: z.number().nullable() }),
  created_at: z.number(),
  cleanup: z.string(),
});
export type StreamInfo = z.output<typeof streamInfoSchema>;

export const streamListSchema = z.object({ streams: z.array(streamInfoSchema) });

const jsonBytesSchema = z.object({ $base64: z.string() });
export type JsonBytes = z.output<typeof jsonBytesSchema>;

export const jsonRecordSchema = z.object({
  offset: count,
  timestamp: z.number(),
  key: jsonBytesSchema.nullable(),
  headers: z.record(z.string(), z.union([z.string(), jsonBytesSchema])),
  fields: z.record(z.string(), z.unknown()).nullable(),
});
export type JsonRecord = z.output<typeof jsonRecordSchema>;

export const readResponseSchema = z.object({ records: z.array(jsonRecordSchema), next_offset: count, end_offset: count });

const queueCounts = { in_flight: count, pending: count, redelivered: count, dead_lettered: count, acked: count };

export const queueListSchema = z.object({ queues: z.array(z.object({ group: z.string(), streams: z.array(z.string()) })) });

export const queueDescriptionSchema = z.object({
  group: z.string(),
  config: z.object({ max_deliveries: count, visibility_ms: count, backoff: z.record(z.string(), z.unknown()) }),
  partitions: z.array(z.object({ stream: z.string(), partition: count, cursor: count, end_offset: count, ...queueCounts })),
  totals: z.object(queueCounts),
});
export type QueueDescription = z.output<typeof queueDescriptionSchema>;

export const ANOMALY_KINDS = ["record_size", "publish_rate", "group_processing", "queue_processing"] as const;

/** GET /v1/anomalies (docs/anomalies.md): flags in offset order from `after`, and where to go on. */
export const anomalyListSchema = z.object({
  anomalies: z.array(
    z.object({
      offset: count,
      timestamp: z.number(),
      kind: z.enum(ANOMALY_KINDS),
      stream: z.string().optional(),
      group: z.string().optional(),
      partition: count.optional(),
      value: z.number(),
      mean: z.number(),
      stddev: z.number(),
      threshold: z.number(),
      reason: z.string(),
    }),
  ),
  next: count,
});
export type Anomaly = z.output<typeof anomalyListSchema>["anomalies"][number];
