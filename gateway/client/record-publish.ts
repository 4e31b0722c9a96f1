// The client library's publish: records go as a client-built batch (core/log/client-batch.ts),
// which the gateway validates and appends without re-encoding; a gateway that does not know the
// batch media type (415, or 400 "malformed JSON body" from a gateway that predates it) gets the
// same records as a MessagePack publish body instead. A batch
// goes to one partition, so records the gateway would spread over several (different keys, or
// different explicit partitions) take the MessagePack path.
import { encode } from "@msgpack/msgpack";
import { z } from "zod";
import { markRetrySafe } from "../../core/client/failover-fetch.ts";
import { StrataError } from "../../core/errors.ts";
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE, refusesClientBatches } from "../../core/log/client-batch.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import type { Acks, ProducerRef, RecordInput } from "../../core/log/record.ts";
import { withDerivedHeaders, type SourceRecord } from "../../core/trace/derived-headers.ts";
import { errorSchema, gatewayAnswer, type GatewayConnection } from "./gateway-call.ts";

export interface PublishOptions {
  readonly acks?: Acks;
  /** An idempotent producer: a retry with the same (id, epoch, seq) answers the first attempt's offsets. */
  readonly producer?: ProducerRef;
  /** "batch" (default): a client-built batch when the records go to one partition; "msgpack": always the decoded form. */
  readonly form?: "batch" | "msgpack";
  readonly signal?: AbortSignal;
  /**
   * The consumed record these records were derived from (a GroupRecord, a ClaimedRecord, or any
   * `{stream, partition, offset, headers}`): each record gets `traceparent`, a child of the
   * source's (a new trace when it has none), and `strata-source` naming it (docs/tracing.md).
   */
  readonly derivedFrom?: SourceRecord;
}

export interface PublishedPosition {
  readonly partition: number;
  readonly offset: number;
}

const answerSchema = z.object({ records: z.array(z.object({ partition: z.number().int().nonnegative(), offset: z.number().int().nonnegative() })) });

/** The one partition a batch of `records` can go to without the gateway refusing it: "named" N, "any" (its keys decide), or none. */
function batchTarget(records: readonly RecordInput[]): { partition?: number } | undefined {
  const named = new Set(records.map((r) => r.partition));
  if (named.size !== 1) return undefined;
  const [partition] = named;
  if (partition !== undefined) return { partition };
  const first = records.find((r) => r.key !== null)?.key;
  // Different keys may hash to different partitions, which only the gateway knows.
  if (first && records.some((r) => r.key !== null && !equalBytes(r.key, first))) return undefined;
  return {};
}

/** Publishes `records` to `stream` and answers where each landed, in order. Refusals are StrataErrors with the gateway's code. */
export async function publishRecords(connection: GatewayConnection, stream: string, records: readonly RecordInput[], options: PublishOptions = {}): Promise<PublishedPosition[]> {
  if (records.length === 0) throw new StrataError("BAD_REQUEST", "publish at least one record");
  const source = options.derivedFrom;
  const sent = source === undefined ? records : records.map((r) => ({ ...r, headers: withDerivedHeaders(r.headers, source) }));
  const target = options.form === "msgpack" ? undefined : batchTarget(sent);
  if (target) {
    const { id, epoch, seq } = options.producer ?? { id: 0, epoch: 0, seq: 0 };
    const batch = buildClientBatch(sent, options.producer ? { id, epoch, baseSequence: seq } : undefined);
    const query = new URLSearchParams();
    if (options.acks) query.set("acks", options.acks);
    if (target.partition !== undefined) query.set("partition", String(target.partition));
    const response = await post(connection, stream, query, batch, CLIENT_BATCH_MEDIA_TYPE, options.signal, options.producer !== undefined);
    if (!(await predatesBatches(response))) return answerOf(response, sent.length);
  }
  const body = encode({ records: sent.map((r) => ({ key: r.key, headers: r.headers, fields: r.fields, ...(r.partition !== undefined ? { partition: r.partition } : {}) })), producer: options.producer ?? null }, { extensionCodec, ignoreUndefined: true });
  const query = new URLSearchParams(options.acks ? { acks: options.acks } : {});
  return answerOf(await post(connection, stream, query, body, "application/msgpack", options.signal, options.producer !== undefined), sent.length);
}

/**
 * With `idempotent` (the records carry a producer) the request is marked safe to send again after
 * any failure: over several gateways (gatewayConnection) a retry is answered with the first
 * attempt's offsets. Without, it is sent again only when its connection was refused.
 */
function post(connection: GatewayConnection, stream: string, query: URLSearchParams, body: Uint8Array, contentType: string, signal: AbortSignal | undefined, idempotent: boolean): Promise<Response> {
  const headers: Record<string, string> = { "content-type": contentType, accept: "application/json" };
  if (connection.token !== undefined) headers.authorization = `Bearer ${connection.token}`;
  const qs = query.size > 0 ? `?${query}` : "";
  const url = `${connection.gateway.replace(/\/+$/, "")}/v1/streams/${encodeURIComponent(stream)}/records${qs}`;
  // fetch takes bytes over an ArrayBuffer (not a SharedArrayBuffer): a view of the same memory, never a copy here.
  const onArrayBuffer = body.buffer instanceof ArrayBuffer ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : body.slice();
  const init: RequestInit = { method: "POST", headers, body: onArrayBuffer, ...(signal ? { signal } : {}) };
  return (connection.fetch ?? fetch)(url, idempotent ? markRetrySafe(init) : init);
}

/**
 * Whether the answer says the gateway does not take client-built batches: 415, or a gateway from
 * before them, which reads any body that is not MessagePack as JSON. Consumes the body if so.
 */
async function predatesBatches(response: Response): Promise<boolean> {
  if (response.status === 415) {
    await response.body?.cancel();
    return true;
  }
  if (response.status !== 400) return false;
  const failure = errorSchema.safeParse(await response.clone().json().catch(() => undefined));
  if (!failure.success || !refusesClientBatches(failure.data.error.code, failure.data.error.message)) return false;
  await response.body?.cancel();
  return true;
}

async function answerOf(response: Response, count: number): Promise<PublishedPosition[]> {
  const { value } = await gatewayAnswer(response, answerSchema, "publish");
  if (value.records.length !== count) throw new StrataError("CORRUPT_DATA", `publish: the answer does not hold ${count} record positions`);
  return value.records;
}
