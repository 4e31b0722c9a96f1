// The client-built batch: a producer lays out the stored batch format itself (core/log/batch.ts:
// header, CRC32C, records) and the gateway validates it and appends its bytes without decoding
// and re-encoding each record (Kafka's model). The body of
// `POST /v1/streams/{name}/records` with Content-Type CLIENT_BATCH_MEDIA_TYPE.
//
// Base offset 0 (the log assigns offsets: it sits outside the CRC). Timestamps are the gateway's,
// as for every publish: the client writes 0 in the header and a delta of 0 in every record, and
// the gateway stamps its clock into the header (fixing the CRC up arithmetically, not rehashing).
import { StrataError } from "../errors.ts";
import { BatchBuilder, encodeBatch, encodeRecordShared, type BatchRecordInput } from "./batch.ts";

export const CLIENT_BATCH_MEDIA_TYPE = "application/vnd.strata.batch";

/** What a client-built batch carries per record (a BatchRecordInput's timestamp, if any, is not sent). */
export type ClientBatchRecord = Pick<BatchRecordInput, "key" | "headers" | "fields">;

/** An idempotent producer's identity and the sequence number of this batch. */
export interface ClientBatchProducer {
  readonly id: number;
  readonly epoch: number;
  readonly baseSequence: number;
}

/** Lays out `records` as one stored batch (base offset 0, timestamps 0) for the gateway to validate and append. */
export function buildClientBatch(records: readonly ClientBatchRecord[], producer?: ClientBatchProducer): Uint8Array {
  if (records.length === 0) throw new StrataError("BAD_REQUEST", "a batch holds at least one record");
  const builder = new BatchBuilder(records.length);
  for (const r of records) builder.push(encodeRecordShared({ timestamp: 0, key: r.key, headers: r.headers, fields: r.fields }, 0));
  const ref = producer ? { id: producer.id, epoch: producer.epoch, seq: producer.baseSequence } : null;
  return encodeBatch(builder.records(), { baseOffset: 0, firstTimestamp: 0, maxTimestamp: 0, producer: ref });
}
