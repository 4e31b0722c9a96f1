// The queue API's request and response shapes (docs/queues.md): zod schemas are the one source of
// each request's type; responses are plain interfaces. Shared by the HTTP routes, the typed
// client and the worker library.
import { z } from "zod";
import type { JsonBytes } from "../streams/read-wire.ts";

const streamList = z.array(z.string().min(1)).min(1, { message: "streams must be a non-empty array" });
const receiptList = z.array(z.string().min(1).max(320)).min(1, { message: "receipts must be a non-empty array" });

/** POST /v1/queues/{group}/claim. Streams listed first have strict priority. */
export const claimRequestSchema = z.object({
  streams: streamList,
  max_records: z.number().int().min(1).optional(),
  visibility_ms: z.number().int().min(1).optional(),
  wait_ms: z.number().int().min(0).optional(),
  /** A CEL expression (docs/filters.md): records it rejects are settled as filtered for this group. */
  filter: z.string().optional(),
});
export type ClaimRequest = z.output<typeof claimRequestSchema>;

/** POST /v1/queues/{group}/ack. */
export const ackRequestSchema = z.object({ receipts: receiptList });
export type AckRequest = z.output<typeof ackRequestSchema>;

/** POST /v1/queues/{group}/nack: `delay_ms` overrides the queue's backoff, `error` is kept as the last error. */
export const nackRequestSchema = z.object({
  receipts: receiptList,
  delay_ms: z.number().int().min(0).optional(),
  error: z.string().optional(),
});
export type NackRequest = z.output<typeof nackRequestSchema>;

export const backoffSchema = z.object({
  initial_ms: z.number().int().min(0),
  max_ms: z.number().int().min(0),
  multiplier: z.number().min(1).max(100),
  jitter: z.enum(["full", "equal", "none"]),
});
export type Backoff = z.output<typeof backoffSchema>;

/** PUT /v1/queues/{group}: every key optional; what is given replaces the current value. */
export const queueConfigSchema = z.object({
  max_deliveries: z.number().int().min(1).optional(),
  backoff: backoffSchema.optional(),
  visibility_ms: z.number().int().min(1).optional(),
});
export type QueueConfigInput = z.output<typeof queueConfigSchema>;

/** A queue's configuration as stored and answered. */
export interface QueueConfig {
  readonly max_deliveries: number;
  readonly backoff: Backoff;
  /** Visibility of a claim that names none. */
  readonly visibility_ms: number;
}

/** One claimed delivery in a claim answer (JSON form; MessagePack keeps key and header bytes native). */
export interface ClaimedRecordJson {
  receipt: string;
  stream: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: JsonBytes | null;
  headers: Record<string, string | JsonBytes>;
  /** Null for a tombstone (docs/compaction.md). */
  fields: Record<string, unknown> | null;
  /** 1 on the first delivery. */
  deliveries: number;
}

export interface ClaimResponse {
  records: ClaimedRecordJson[];
}

export interface AckResponse {
  acked: number;
  /** Receipts that name no current delivery (acked, redelivered since, or never issued). */
  stale: string[];
}

export interface NackResponse {
  nacked: number;
  /** Of the nacked, how many went to the dead-letter stream. */
  dead_lettered: number;
  stale: string[];
}

/** Counts of one partition or of a whole queue. */
export interface QueueCounts {
  in_flight: number;
  /** Delivered before and waiting for redelivery, plus not yet delivered records below the log's end. */
  pending: number;
  /** Deliveries after the first, ever. */
  redelivered: number;
  dead_lettered: number;
  acked: number;
}

export interface QueuePartitionCounts extends QueueCounts {
  stream: string;
  partition: number;
  /** Next never-delivered offset. */
  cursor: number;
  end_offset: number;
}

export interface QueueDescription {
  group: string;
  config: QueueConfig;
  partitions: QueuePartitionCounts[];
  totals: QueueCounts;
}

export interface QueueSummary {
  group: string;
  streams: string[];
}

export interface QueueList {
  queues: QueueSummary[];
}
