// The work-queue calls (claim, ack, nack, describe, list) over fetch, JSON both ways, every answer
// checked by a schema. A failure answer becomes a StrataError with the gateway's code, so callers
// switch on codes, not statuses (docs/queues.md has the routes' semantics).
import { z } from "zod";
import { callGateway, type GatewayConnection, jsonRecordFields } from "./gateway-call.ts";

export const claimedRecordSchema = z.object({
  receipt: z.string().min(1),
  stream: z.string(),
  partition: z.number().int().nonnegative(),
  ...jsonRecordFields,
  /** 1 on the first delivery. */
  deliveries: z.number().int().min(1),
});
/** One claimed delivery: the record, where it is in the log, its receipt and how often it was delivered. */
export type ClaimedRecord = z.output<typeof claimedRecordSchema>;

const claimResponseSchema = z.object({ records: z.array(claimedRecordSchema) });
const ackResponseSchema = z.object({ acked: z.number().int().nonnegative(), stale: z.array(z.string()) });
export type AckResult = z.output<typeof ackResponseSchema>;
const nackResponseSchema = z.object({ nacked: z.number().int().nonnegative(), dead_lettered: z.number().int().nonnegative(), stale: z.array(z.string()) });
export type NackResult = z.output<typeof nackResponseSchema>;

const countsShape = {
  in_flight: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  redelivered: z.number().int().nonnegative(),
  dead_lettered: z.number().int().nonnegative(),
  acked: z.number().int().nonnegative(),
};
const backoffSchema = z.object({ initial_ms: z.number(), max_ms: z.number(), multiplier: z.number(), jitter: z.enum(["full", "equal", "none"]) });
const queueConfigSchema = z.object({ max_deliveries: z.number().int(), visibility_ms: z.number().int(), backoff: backoffSchema });
/** A queue's configuration: deliveries before the dead-letter stream, the claims' default visibility, the redelivery backoff. */
export type QueueConfig = z.output<typeof queueConfigSchema>;
const configureResponseSchema = z.object({ group: z.string(), config: queueConfigSchema });
const queueDescriptionSchema = z.object({
  group: z.string(),
  config: queueConfigSchema,
  partitions: z.array(z.object({ stream: z.string(), partition: z.number().int(), cursor: z.number().int(), end_offset: z.number().int(), ...countsShape })),
  totals: z.object(countsShape),
});
export type QueueInfo = z.output<typeof queueDescriptionSchema>;
const queueListSchema = z.object({ queues: z.array(z.object({ group: z.string(), streams: z.array(z.string()) })) });
export type QueueListing = z.output<typeof queueListSchema>["queues"];

/** Where the queue calls go (the gateway, its token, the fetch to use). */
export type QueueConnection = GatewayConnection;

export interface ClaimOptions {
  /** Streams in priority order: a later stream's records are claimed only when the earlier ones have none ready. */
  readonly streams: readonly string[];
  /** Records at most (the gateway's default, 10, when absent). */
  readonly maxRecords?: number;
  /** How long the records stay invisible to other claims; the queue's default when absent. */
  readonly visibilityMs?: number;
  /** Long-poll: wait up to this long for a record when none is ready. */
  readonly waitMs?: number;
  /** A CEL expression (docs/filters.md); records it rejects are settled as filtered for this group. */
  readonly filter?: string;
  readonly signal?: AbortSignal;
}

export interface NackOptions {
  /** Wait this long before the redelivery instead of the queue's backoff. */
  readonly delayMs?: number;
  /** Kept as the record's last error (the dead letter's `strata-dlq-error` header). */
  readonly error?: string;
  readonly signal?: AbortSignal;
}

function queuePath(group: string, tail = ""): string {
  return `/v1/queues/${encodeURIComponent(group)}${tail}`;
}

async function call<S extends z.ZodType>(connection: QueueConnection, method: string, path: string, schema: S, body?: unknown, signal?: AbortSignal): Promise<z.output<S>> {
  return (await callGateway(connection, method, path, schema, body, signal)).value;
}

/** Claims up to `maxRecords` records of `group`'s queue over `streams`, each invisible to other claims for the visibility. */
export async function claim(connection: QueueConnection, group: string, options: ClaimOptions): Promise<ClaimedRecord[]> {
  const body = {
    streams: options.streams,
    ...(options.maxRecords === undefined ? {} : { max_records: options.maxRecords }),
    ...(options.visibilityMs === undefined ? {} : { visibility_ms: options.visibilityMs }),
    ...(options.waitMs === undefined ? {} : { wait_ms: options.waitMs }),
    ...(options.filter === undefined ? {} : { filter: options.filter }),
  };
  return (await call(connection, "POST", queuePath(group, "/claim"), claimResponseSchema, body, options.signal)).records;
}

/** Settles the deliveries named by `receipts`; a receipt that names no current delivery comes back in `stale`. */
export async function ack(connection: QueueConnection, group: string, receipts: readonly string[], signal?: AbortSignal): Promise<AckResult> {
  return call(connection, "POST", queuePath(group, "/ack"), ackResponseSchema, { receipts }, signal);
}

/** Gives the deliveries back for redelivery after a backoff (or to the dead-letter stream past max_deliveries). */
export async function nack(connection: QueueConnection, group: string, receipts: readonly string[], options: NackOptions = {}): Promise<NackResult> {
  const body = { receipts, ...(options.delayMs === undefined ? {} : { delay_ms: options.delayMs }), ...(options.error === undefined ? {} : { error: options.error }) };
  return call(connection, "POST", queuePath(group, "/nack"), nackResponseSchema, body, options.signal);
}

/** The queue's configuration and its counts, per partition and in total. */
export async function describeQueue(connection: QueueConnection, group: string, signal?: AbortSignal): Promise<QueueInfo> {
  return call(connection, "GET", queuePath(group), queueDescriptionSchema, undefined, signal);
}

/** Sets what `config` names of the queue's configuration (admin scope); answers the whole configuration. */
export async function configureQueue(connection: QueueConnection, group: string, config: Partial<QueueConfig>, signal?: AbortSignal): Promise<QueueConfig> {
  return (await call(connection, "PUT", queuePath(group), configureResponseSchema, config, signal)).config;
}

/** Every queue group the gateway keeps, with the streams it has claimed from. */
export async function listQueues(connection: QueueConnection, signal?: AbortSignal): Promise<QueueListing> {
  return (await call(connection, "GET", "/v1/queues", queueListSchema, undefined, signal)).queues;
}
