// The client-built batch: a producer lays out the stored batch format itself (core/log/batch.ts:
// header, CRC32C, records) and the gateway validates it and appends its bytes without decoding
// and re-encoding each record (Kafka's model). The body of
// `POST /v1/streams/{name}/records` with Content-Type CLIENT_BATCH_MEDIA_TYPE.
//
// Base offset 0 (the log assigns offsets: it sits outside the CRC). Timestamps are the gateway's,
// as for every publish: the client writes 0 in the header and a delta of 0 in every record, and
// the gateway stamps its clock into the header (fixing the CRC up arithmetically, not rehashing).
import { z } from "zod";
import { StrataError } from "../errors.ts";
import { describeIssues } from "../util/parse-input.ts";
import {
  BATCH_HEADER_SIZE, BATCH_MAGIC, BATCH_VERSION, BatchBuilder, encodeBatch, encodeRecordShared, readBatchHeader, scanBatchRecords,
  type BatchHeader, type BatchRecordInput, type RawRecord,
} from "./batch.ts";
import { MAX_VALUE_DEPTH } from "./json-value.ts";
import { BoundedMsgpackDecoder, msgpackCapsFor } from "./msgpack-bounds.ts";
import { isFieldMap } from "./field-values.ts";
import { wireFields } from "./publish-request.ts";
import type { ProducerRef, RecordInput } from "./record.ts";

export const CLIENT_BATCH_MEDIA_TYPE = "application/vnd.strata.batch";

/**
 * Whether a refused client-built batch says the gateway does not take them, so the producer sends
 * the same records as a MessagePack body: 415, or a gateway from before batches, which reads any
 * body that is not MessagePack as JSON (400 "malformed JSON body …").
 */
export function refusesClientBatches(code: string, message: string): boolean {
  return code === "UNSUPPORTED_MEDIA_TYPE" || (code === "BAD_REQUEST" && message.includes("malformed JSON body"));
}

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

/** The bounds a client-built batch is checked against before anything is written. */
export interface ClientBatchLimits {
  /** Largest whole batch (the storage engine's maxBatchBytes). */
  readonly maxBatchBytes: number;
  readonly maxBatchRecords: number;
  /** Largest encoded record (its MessagePack array). */
  readonly maxRecordBytes: number;
  readonly maxHeaders: number;
  readonly maxKeyBytes: number;
}

/** A client-built batch that passed every check: its bytes, appended as they are, and its records decoded for the append hooks. */
export interface ClientBatch {
  readonly bytes: Uint8Array;
  readonly producer: ProducerRef | null;
  /** The records as log values (for partition choice, the compacted-stream index and artefact references); not re-encoded. */
  readonly records: readonly RecordInput[];
}

const MIN_RECORD_BYTES = 5; // 0x94 and four one-byte values

const wireHeaderValue = z.union([z.string(), z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "expected bytes" })]);
const storedRecord = z.tuple([
  z.literal(0, { message: "the timestamp delta must be 0 (the gateway assigns timestamps)" }),
  z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "the key must be bytes or nil" }).nullable(),
  z.record(z.string(), wireHeaderValue),
  wireFields.nullable(),
]);

type StoredRecord = z.output<typeof storedRecord>;

function isHeaderMap(v: unknown): v is StoredRecord[2] {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) return false;
  for (const name in v) {
    const value: unknown = (v as Record<string, unknown>)[name];
    if (typeof value !== "string" && !(value instanceof Uint8Array)) return false;
  }
  return true;
}

/**
 * `storedRecord` as a type guard without zod's per-call cost (about 4 us a record, more than the
 * rest of the validation together): it accepts exactly what the schema accepts.
 */
function isStoredRecord(v: unknown): v is StoredRecord {
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== 0) return false;
  const [, key, headers, fields] = v as unknown[];
  return (key === null || key instanceof Uint8Array) && isHeaderMap(headers) && (fields === null || isFieldMap(fields));
}

function bad(message: string): StrataError {
  return new StrataError("BAD_BATCH", message);
}

/**
 * Validates an untrusted client-built batch: header (magic, length equal to the body and within
 * maxBatchBytes, version, flags, reserved bytes, CRC32C, record count) and every record (framing,
 * size, key, headers, field values). Throws BAD_BATCH (or BATCH_TOO_LARGE / RECORD_TOO_LARGE)
 * naming the problem. Never modifies `body`.
 */
export function parseClientBatch(body: Uint8Array, limits: ClientBatchLimits): ClientBatch {
  if (body.length < BATCH_HEADER_SIZE) throw bad(`a batch is at least ${BATCH_HEADER_SIZE} bytes; got ${body.length}`);
  const view = new DataView(body.buffer, body.byteOffset, BATCH_HEADER_SIZE);
  if (view.getUint32(0, true) !== BATCH_MAGIC) throw bad("bad batch magic");
  const length = view.getUint32(4, true);
  if (length !== body.length) throw bad(`the header declares ${length} bytes; the body has ${body.length}`);
  if (length > limits.maxBatchBytes) throw new StrataError("BATCH_TOO_LARGE", `batch of ${length} bytes exceeds the limit of ${limits.maxBatchBytes}`);
  if (body[20] !== BATCH_VERSION) throw bad(`unknown batch version ${body[20]}`);
  const flags = body[21]!;
  if ((flags & ~1) !== 0) throw bad(`unknown batch attributes 0x${flags.toString(16)}`);
  const hasProducer = flags === 1;
  if (view.getUint16(22, true) !== 0 || view.getUint32(28, true) !== 0 || view.getUint16(58, true) !== 0) throw bad("reserved header bytes must be 0");
  if (!hasProducer && body.subarray(48, 64).some((b) => b !== 0)) throw bad("producer fields are set but the producer attribute is not");
  const count = view.getUint32(24, true);
  if (count === 0) throw bad("a batch holds at least one record");
  if (count > limits.maxBatchRecords) throw new StrataError("BATCH_TOO_LARGE", `a request holds at most ${limits.maxBatchRecords} records; the batch declares ${count}`);
  if (count * MIN_RECORD_BYTES > length - BATCH_HEADER_SIZE) throw bad(`the batch declares ${count} records but has room for fewer`);
  let header: BatchHeader;
  let located: RawRecord[];
  try {
    header = readBatchHeader(body)!; // CRC32C over [20, length)
    located = scanBatchRecords(body, header);
  } catch (e) {
    if (e instanceof StrataError) throw bad(e.message);
    throw e;
  }
  const caps = msgpackCapsFor(limits.maxRecordBytes, MAX_VALUE_DEPTH + 2);
  const decoder = recordDecoders.get(limits.maxRecordBytes) ?? new BoundedMsgpackDecoder(caps);
  recordDecoders.set(limits.maxRecordBytes, decoder);
  const records: RecordInput[] = new Array(count);
  let start = BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const end = located[i]!.fields[1];
    if (end - start > limits.maxRecordBytes) {
      throw new StrataError("RECORD_TOO_LARGE", `record ${i} encodes to ${end - start} bytes; the limit is ${limits.maxRecordBytes}`);
    }
    let value: unknown;
    try {
      value = decoder.decode(body.subarray(start, end));
    } catch (e) {
      if (e instanceof StrataError) throw bad(`record ${i}: ${e.message}`);
      throw e;
    }
    if (!isStoredRecord(value)) {
      // The schema names what is wrong; the guard (which accepts exactly what it accepts) is the fast path.
      const parsed = storedRecord.safeParse(value);
      throw bad(`record ${i}: ${parsed.success ? "malformed record" : describeIssues(parsed.error.issues)}`);
    }
    const [, key, headers, fields] = value;
    if (key && key.length > limits.maxKeyBytes) throw new StrataError("RECORD_TOO_LARGE", `record ${i}: the key is longer than ${limits.maxKeyBytes} bytes`);
    if (Object.keys(headers).length > limits.maxHeaders) throw bad(`record ${i} has more than ${limits.maxHeaders} headers`);
    records[i] = { key, headers, fields };
    start = end;
  }
  return { bytes: body, producer: header.producer, records };
}

/** One bounded decoder per record-size limit (a gateway has one). */
const recordDecoders = new Map<number, BoundedMsgpackDecoder>();
