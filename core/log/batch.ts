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
import { crc32c } from "../hashing/crc32c.ts";
import { StrataError } from "../errors.ts";
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
  /** Null for a tombstone. */
  readonly fields: Fields | null;
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

// Encoded records are short-lived (encodeBatch copies them into the batch), so small ones are
// carved out of a shared arena: one allocation per ARENA_BYTES instead of one per record, and the
// records of one request sit back to back, which lets encodeBatch copy them in one piece.
const ARENA_BYTES = 1 << 20;
const ARENA_MAX_RECORD = ARENA_BYTES >>> 3;
let arena = new Uint8Array(ARENA_BYTES);
let arenaUsed = 0;

/** Encodes one record; its size is what record-size limits apply to. The result is read-only. */
export function encodeRecord(record: BatchRecordInput, firstTimestamp: number): Uint8Array {
  const ref = encoder.encodeSharedRef([record.timestamp - firstTimestamp, record.key, record.headers, record.fields]);
  const n = ref.length;
  if (n > ARENA_MAX_RECORD) return ref.slice();
  if (arenaUsed + n > ARENA_BYTES) {
    arena = new Uint8Array(ARENA_BYTES);
    arenaUsed = 0;
  }
  const out = arena.subarray(arenaUsed, arenaUsed + n);
  out.set(ref);
  arenaUsed += n;
  return out;
}

/**
 * Encodes one record into the encoder's own buffer: the view is valid only until the next encode.
 * For callers that check the size and then copy it somewhere (BatchBuilder.push).
 */
export function encodeRecordShared(record: BatchRecordInput, firstTimestamp: number): Uint8Array {
  return encoder.encodeSharedRef([record.timestamp - firstTimestamp, record.key, record.headers, record.fields]);
}

/** Most room a BatchBuilder reserves beyond the record in hand when it guesses (16 MiB). */
const BUILDER_GUESS_MAX = 16 << 20;

/** Buffers laid out by a BatchBuilder whose first BATCH_HEADER_SIZE bytes are still free. */
const headerRoom = new WeakSet<ArrayBufferLike>();

/**
 * The encoded records of one batch, back to back in one buffer after room for the batch header,
 * so that encodeBatch can write the header in front of them instead of copying them. The buffer
 * is sized from the first record times the expected count (records of a request are usually
 * alike) and grows if the guess was short.
 */
export class BatchBuilder {
  private buf = new Uint8Array(0);
  private used = BATCH_HEADER_SIZE;
  private readonly ends: number[] = [];
  private sealed = false;

  constructor(private readonly expectedRecords: number) {}

  /** Bytes of records pushed so far. */
  get bytes(): number {
    return this.used - BATCH_HEADER_SIZE;
  }

  /** Copies one encoded record in (e.g. from encodeRecordShared). */
  push(encoded: Uint8Array): void {
    if (this.sealed) throw new StrataError("BAD_REQUEST", "BatchBuilder: push after records()");
    if (this.used + encoded.length > this.buf.length) this.grow(encoded.length);
    this.buf.set(encoded, this.used);
    this.used += encoded.length;
    this.ends.push(this.used);
  }

  /** Views of the records, in order, for encodeBatch. Ends the builder. */
  records(): Uint8Array[] {
    this.sealed = true;
    const out: Uint8Array[] = new Array(this.ends.length);
    let start = BATCH_HEADER_SIZE;
    for (let i = 0; i < this.ends.length; i++) {
      out[i] = this.buf.subarray(start, this.ends[i]!);
      start = this.ends[i]!;
    }
    if (out.length > 0) headerRoom.add(this.buf.buffer);
    return out;
  }

  private grow(need: number): void {
    // The guess (this record's size for every record still expected) is capped, so one large
    // record among many small ones does not reserve room for many large ones.
    const remaining = Math.max(1, this.expectedRecords - this.ends.length);
    const guess = Math.min(need * remaining, need + BUILDER_GUESS_MAX);
    const capacity = Math.max(this.used + guess, Math.ceil(this.buf.length * 1.5));
    const next = new Uint8Array(capacity);
    next.set(this.buf.subarray(0, this.used));
    this.buf = next;
  }
}

/** Whether `records` are adjacent views of one buffer, in order (then one copy moves them all). */
function contiguous(records: readonly Uint8Array[]): boolean {
  if (records.length === 0) return false;
  const buffer = records[0]!.buffer;
  let next = records[0]!.byteOffset + records[0]!.length;
  for (let i = 1; i < records.length; i++) {
    const r = records[i]!;
    if (r.buffer !== buffer || r.byteOffset !== next) return false;
    next += r.length;
  }
  return true;
}

/** Builds a batch from already-encoded records (see encodeRecord). */
export function encodeBatch(
  encodedRecords: readonly Uint8Array[],
  meta: { baseOffset: number; firstTimestamp: number; maxTimestamp: number; producer: ProducerRef | null },
): Uint8Array {
  let length = BATCH_HEADER_SIZE;
  for (const r of encodedRecords) length += r.length;
  const first = encodedRecords[0];
  const together = contiguous(encodedRecords);
  let batch: Uint8Array;
  if (together && first!.byteOffset === BATCH_HEADER_SIZE && headerRoom.has(first!.buffer)) {
    // Laid out by a BatchBuilder: write the header in the room before the records. Once only.
    headerRoom.delete(first!.buffer);
    batch = new Uint8Array(first!.buffer, 0, length);
    batch.fill(0, 0, BATCH_HEADER_SIZE);
  } else {
    batch = new Uint8Array(length);
    if (together) {
      batch.set(new Uint8Array(first!.buffer, first!.byteOffset, length - BATCH_HEADER_SIZE), BATCH_HEADER_SIZE);
    } else {
      let at = BATCH_HEADER_SIZE;
      for (const r of encodedRecords) {
        batch.set(r, at);
        at += r.length;
      }
    }
  }
  const view = new DataView(batch.buffer, batch.byteOffset, BATCH_HEADER_SIZE);
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

/** Where one stored record's parts sit inside its batch's bytes, for callers that forward them raw. */
export interface RawRecord {
  readonly offset: number;
  readonly timestamp: number;
  /** The whole batch (header included); the ranges below index into it. */
  readonly batch: Uint8Array;
  /** [start, end) of the MessagePack key (nil or bin), headers (map) and fields (map). */
  readonly key: readonly [number, number];
  readonly headers: readonly [number, number];
  readonly fields: readonly [number, number];
}

function corrupt(header: BatchHeader, what: string): StrataError {
  return new StrataError("CORRUPT_DATA", `batch at offset ${header.baseOffset}: ${what}`);
}

/**
 * Locates each record of one whole, already validated batch without decoding its values: the
 * MessagePack of key, headers and fields can be copied as they are into a response.
 */
export function scanBatchRecords(batch: Uint8Array, header: BatchHeader): RawRecord[] {
  try {
    return scan(batch, header);
  } catch (e) {
    if (e instanceof StrataError) throw e;
    throw corrupt(header, `undecodable record (${(e as Error).message})`); // a length field past the end (RangeError)
  }
}

function scan(batch: Uint8Array, header: BatchHeader): RawRecord[] {
  const end = header.length;
  const view = new DataView(batch.buffer, batch.byteOffset, end);
  const out: RawRecord[] = new Array(header.count);
  let pos = BATCH_HEADER_SIZE;
  for (let i = 0; i < header.count; i++) {
    if (pos >= end || batch[pos] !== 0x94) throw corrupt(header, `record ${i} is not a 4-element array`);
    pos++;
    const deltaEnd = msgpackValueEnd(batch, view, pos, end);
    const delta = readInt(batch, view, pos);
    if (delta === undefined || !Number.isSafeInteger(header.firstTimestamp + delta)) throw corrupt(header, `record ${i} has a bad timestamp delta`);
    const keyEnd = msgpackValueEnd(batch, view, deltaEnd, end);
    const headersEnd = msgpackValueEnd(batch, view, keyEnd, end);
    const fieldsEnd = msgpackValueEnd(batch, view, headersEnd, end);
    out[i] = { offset: header.baseOffset + i, timestamp: header.firstTimestamp + delta, batch, key: [deltaEnd, keyEnd], headers: [keyEnd, headersEnd], fields: [headersEnd, fieldsEnd] };
    pos = fieldsEnd;
  }
  if (pos !== end) throw corrupt(header, `${end - pos} bytes after record ${header.count - 1}`);
  return out;
}

/** A MessagePack integer at `pos` (any width, either sign, within ±2^53), or undefined. */
function readInt(b: Uint8Array, view: DataView, pos: number): number | undefined {
  const t = b[pos]!;
  if (t <= 0x7f) return t;
  if (t >= 0xe0) return t - 0x100;
  switch (t) {
    case 0xcc:
      return b[pos + 1]!;
    case 0xcd:
      return view.getUint16(pos + 1);
    case 0xce:
      return view.getUint32(pos + 1);
    case 0xcf: {
      const hi = view.getUint32(pos + 1);
      return hi > 0x1fffff ? undefined : hi * 0x1_0000_0000 + view.getUint32(pos + 5);
    }
    case 0xd0:
      return view.getInt8(pos + 1);
    case 0xd1:
      return view.getInt16(pos + 1);
    case 0xd2:
      return view.getInt32(pos + 1);
    case 0xd3: {
      const hi = view.getInt32(pos + 1);
      return hi > 0x1fffff || hi < -0x200000 ? undefined : hi * 0x1_0000_0000 + view.getUint32(pos + 5);
    }
    default:
      return undefined;
  }
}

/** End of the MessagePack value starting at `pos` (containers included), bounded by `end`. */
export function msgpackValueEnd(b: Uint8Array, view: DataView, pos: number, end: number): number {
  let pending = 1; // values still to skip
  while (pending > 0) {
    if (pos >= end) throw new StrataError("CORRUPT_DATA", "truncated MessagePack value");
    const t = b[pos]!;
    pending--;
    let skip = 0; // payload bytes after the type byte and its length field
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) {
      pos += 1;
      continue;
    } else if (t <= 0x8f) {
      pending += 2 * (t & 0x0f);
      pos += 1;
      continue;
    } else if (t <= 0x9f) {
      pending += t & 0x0f;
      pos += 1;
      continue;
    } else if (t <= 0xbf) {
      pos += 1 + (t & 0x1f);
    } else {
      switch (t) {
        case 0xc4: case 0xd9: skip = b[pos + 1]!; pos += 2; break; // bin8, str8
        case 0xc5: case 0xda: skip = view.getUint16(pos + 1); pos += 3; break; // bin16, str16
        case 0xc6: case 0xdb: skip = view.getUint32(pos + 1); pos += 5; break; // bin32, str32
        case 0xc7: skip = b[pos + 1]! + 1; pos += 2; break; // ext8 (+ type byte)
        case 0xc8: skip = view.getUint16(pos + 1) + 1; pos += 3; break; // ext16
        case 0xc9: skip = view.getUint32(pos + 1) + 1; pos += 5; break; // ext32
        case 0xca: pos += 5; break; // float32
        case 0xcb: pos += 9; break; // float64
        case 0xcc: case 0xd0: pos += 2; break; // uint8, int8
        case 0xcd: case 0xd1: pos += 3; break;
        case 0xce: case 0xd2: pos += 5; break;
        case 0xcf: case 0xd3: pos += 9; break;
        case 0xd4: pos += 3; break; // fixext1 (type + 1)
        case 0xd5: pos += 4; break;
        case 0xd6: pos += 6; break;
        case 0xd7: pos += 10; break;
        case 0xd8: pos += 18; break;
        case 0xdc: pending += view.getUint16(pos + 1); pos += 3; break; // array16
        case 0xdd: pending += view.getUint32(pos + 1); pos += 5; break; // array32
        case 0xde: pending += 2 * view.getUint16(pos + 1); pos += 3; break; // map16
        case 0xdf: pending += 2 * view.getUint32(pos + 1); pos += 5; break; // map32
        default: throw new StrataError("CORRUPT_DATA", `invalid MessagePack type byte 0x${t.toString(16)}`);
      }
      pos += skip;
    }
    // Every value still pending needs at least one byte.
    if (pos > end || pending > end - pos) throw new StrataError("CORRUPT_DATA", "truncated MessagePack value");
  }
  return pos;
}
