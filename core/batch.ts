// The batch: the unit on the wire, in the WAL and in segments.
//
// Header, 64 bytes, little-endian:
//    0 u32 magic 0x42525453 ("STRB")     4 u32 length of the whole batch (header + records)
//    8 u64 base offset                   16 u32 CRC32C of bytes [20, length)
//   20 u8  version (1)                   21 u8  attributes (bit 0: has producer)   22 u16 reserved (0)
//   24 u32 record count                  28 u32 reserved (0)
//   32 u64 first timestamp (ms)          40 u64 max timestamp (ms)
//   48 u64 producer id                   56 u16 producer epoch   58 u16 reserved (0)
//   60 u32 base sequence
// Records follow, each one MessagePack array [timestamp delta, key, headers, fields].
// Base offset sits outside the CRC so the log can assign offsets without rehashing (as Kafka does).
import { Decoder, Encoder } from "@msgpack/msgpack";
import { crc32c } from "./crc32c.ts";
import { StrataError } from "./errors.ts";
import { extensionCodec } from "./extensions.ts";
import type { Fields, Headers, LogRecord, ProducerRef } from "./record.ts";

export const BATCH_MAGIC = 0x42525453;
export const BATCH_VERSION = 1;
export const BATCH_HEADER_SIZE = 64;
const CRC_START = 20;
const ATTR_PRODUCER = 1;

export interface BatchHeader {
  readonly length: number;
  readonly baseOffset: number;
  readonly crc: number;
  readonly count: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly producer: ProducerRef | null;
}

export interface BatchRecordInput {
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly headers: Headers;
  readonly fields: Fields;
}

const encoder = new Encoder({ extensionCodec, ignoreUndefined: true });
const decoder = new Decoder({ extensionCodec });

function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}
function readU64(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  if (hi > 0x1fffff) throw new StrataError("CORRUPT_DATA", "batch u64 field beyond 2^53");
  return hi * 0x1_0000_0000 + view.getUint32(at, true);
}

/** Encodes one record; its size is what record-size limits apply to. */
export function encodeRecord(record: BatchRecordInput, firstTimestamp: number): Uint8Array {
  return encoder.encode([record.timestamp - firstTimestamp, record.key, record.headers, record.fields]);
}

/** Builds a batch from already-encoded records (see encodeRecord). */
export function encodeBatch(
  encodedRecords: readonly Uint8Array[],
  meta: { baseOffset: number; firstTimestamp: number; maxTimestamp: number; producer: ProducerRef | null },
): Uint8Array {
  let length = BATCH_HEADER_SIZE;
  for (const r of encodedRecords) length += r.length;
  const batch = new Uint8Array(length);
  const view = new DataView(batch.buffer);
  view.setUint32(0, BATCH_MAGIC, true);
  view.setUint32(4, length, true);
  writeU64(view, 8, meta.baseOffset);
  batch[20] = BATCH_VERSION;
  batch[21] = meta.producer ? ATTR_PRODUCER : 0;
  view.setUint32(24, encodedRecords.length, true);
  writeU64(view, 32, meta.firstTimestamp);
  writeU64(view, 40, meta.maxTimestamp);
  if (meta.producer) {
    writeU64(view, 48, meta.producer.id);
    view.setUint16(56, meta.producer.epoch, true);
    view.setUint32(60, meta.producer.seq, true);
  }
  let at = BATCH_HEADER_SIZE;
  for (const r of encodedRecords) {
    batch.set(r, at);
    at += r.length;
  }
  view.setUint32(16, crc32c(batch.subarray(CRC_START)), true);
  return batch;
}

/** Rewrites the base offset in place (outside the CRC). */
export function setBaseOffset(batch: Uint8Array, baseOffset: number): void {
  writeU64(new DataView(batch.buffer, batch.byteOffset, BATCH_HEADER_SIZE), 8, baseOffset);
}

/**
 * Reads and validates the header of the batch starting at `bytes[0]`. Returns null when `bytes`
 * holds less than one whole batch (a torn tail); throws CORRUPT_DATA on a bad magic, length or CRC.
 */
export function readBatchHeader(bytes: Uint8Array, options: { verifyCrc?: boolean; maxLength?: number } = {}): BatchHeader | null {
  if (bytes.length < BATCH_HEADER_SIZE) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, BATCH_HEADER_SIZE);
  if (view.getUint32(0, true) !== BATCH_MAGIC) throw new StrataError("CORRUPT_DATA", "bad batch magic");
  const length = view.getUint32(4, true);
  if (length < BATCH_HEADER_SIZE || length > (options.maxLength ?? 0xffffffff)) {
    throw new StrataError("CORRUPT_DATA", `bad batch length ${length}`);
  }
  if (bytes.length < length) return null;
  if (bytes[20] !== BATCH_VERSION) throw new StrataError("CORRUPT_DATA", `unknown batch version ${bytes[20]}`);
  const crc = view.getUint32(16, true);
  if (options.verifyCrc !== false && crc32c(bytes.subarray(CRC_START, length)) !== crc) {
    throw new StrataError("CORRUPT_DATA", "batch CRC32C mismatch");
  }
  const hasProducer = (bytes[21]! & ATTR_PRODUCER) !== 0;
  return {
    length,
    baseOffset: readU64(view, 8),
    crc,
    count: view.getUint32(24, true),
    firstTimestamp: readU64(view, 32),
    maxTimestamp: readU64(view, 40),
    producer: hasProducer
      ? { id: readU64(view, 48), epoch: view.getUint16(56, true), seq: view.getUint32(60, true) }
      : null,
  };
}

/** Decodes the records of one whole, already validated batch. */
export function decodeBatchRecords(batch: Uint8Array, header: BatchHeader): LogRecord[] {
  const records: LogRecord[] = [];
  let index = 0;
  try {
    for (const item of decoder.decodeMulti(batch.subarray(BATCH_HEADER_SIZE, header.length))) {
      if (!Array.isArray(item) || item.length !== 4) throw new StrataError("CORRUPT_DATA", "malformed record");
      const [delta, key, headers, fields] = item as [number, Uint8Array | null, Headers, Fields];
      records.push({ offset: header.baseOffset + index, timestamp: header.firstTimestamp + delta, key, headers, fields });
      index++;
    }
  } catch (e) {
    if (e instanceof StrataError) throw e;
    throw new StrataError("CORRUPT_DATA", `undecodable record in batch at offset ${header.baseOffset}`, { cause: e });
  }
  if (index !== header.count) throw new StrataError("CORRUPT_DATA", `batch claims ${header.count} records, holds ${index}`);
  return records;
}
