// Segment layout, shared by the WAL file, sealed local files and segment objects:
//
//   [batches ...][sparse index][trailer]
//
// - batches: whole batches (core/log/batch.ts), contiguous offsets from the segment's base offset.
// - sparse index: entries of 8 bytes, little-endian: u32 offset relative to the base offset,
//   u32 byte position of the batch starting there. The first batch always has an entry; further
//   entries every >= indexIntervalBytes. A reader looks up the last entry <= its offset and scans
//   batch headers forward from there.
// - trailer, 64 bytes, little-endian:
//      0 u32 magic 0x47455353 ("SSEG")   4 u16 version (1)   6 u16 reserved
//      8 u64 base offset                  16 u64 end offset (one past the last record)
//     24 u64 index position (= bytes of batches)              32 u32 index entry count
//     36 u32 reserved                     40 u64 first timestamp   48 u64 max timestamp
//     56 u32 reserved                     60 u32 CRC32C of the index bytes followed by trailer [0, 60)
// A WAL file is the same minus index and trailer: sealing appends them and renames the file.
import { crc32c } from "../../core/hashing/crc32c.ts";
import { StrataError, invariant } from "../../core/errors.ts";

export const SEGMENT_MAGIC = 0x47455353;
export const SEGMENT_VERSION = 1;
export const SEGMENT_TRAILER_SIZE = 64;
export const INDEX_ENTRY_SIZE = 8;

/** Sparse offset → position index of one segment, built while batches are appended. */
export class SparseIndex {
  private readonly relOffsets: number[] = [];
  private readonly positions: number[] = [];

  constructor(
    readonly baseOffset: number,
    private readonly intervalBytes: number,
  ) {}

  get size(): number {
    return this.positions.length;
  }

  /** Records a batch that starts at `position` with `baseOffset`; batches must come in order. */
  add(baseOffset: number, position: number): void {
    const n = this.positions.length;
    if (n > 0 && position - this.positions[n - 1]! < this.intervalBytes) return;
    invariant(baseOffset >= this.baseOffset && baseOffset - this.baseOffset <= 0xffff_ffff, "index offset in u32 range");
    invariant(n === 0 ? position === 0 : position > this.positions[n - 1]!, "index positions increase");
    this.relOffsets.push(baseOffset - this.baseOffset);
    this.positions.push(position);
  }

  /**
   * The position to scan from for `offset`: of the last entry at or before it. Also the position
   * of the next entry (or undefined), a natural end for a first read.
   */
  lookup(offset: number): { position: number; nextPosition: number | undefined } {
    invariant(this.positions.length > 0, "lookup in an empty index");
    const rel = offset - this.baseOffset;
    let lo = 0;
    let hi = this.relOffsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.relOffsets[mid]! <= rel) lo = mid;
      else hi = mid - 1;
    }
    return { position: this.positions[lo]!, nextPosition: this.positions[lo + 1] };
  }

  encode(): Uint8Array {
    const out = new Uint8Array(this.positions.length * INDEX_ENTRY_SIZE);
    const view = new DataView(out.buffer);
    for (let i = 0; i < this.positions.length; i++) {
      view.setUint32(i * INDEX_ENTRY_SIZE, this.relOffsets[i]!, true);
      view.setUint32(i * INDEX_ENTRY_SIZE + 4, this.positions[i]!, true);
    }
    return out;
  }

  static decode(bytes: Uint8Array, baseOffset: number, dataLength: number): SparseIndex {
    if (bytes.length % INDEX_ENTRY_SIZE !== 0) throw corrupt("segment index length is not a multiple of 8");
    const index = new SparseIndex(baseOffset, 1);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let at = 0; at < bytes.length; at += INDEX_ENTRY_SIZE) {
      const rel = view.getUint32(at, true);
      const position = view.getUint32(at + 4, true);
      const n = index.positions.length;
      const ordered = n === 0 ? rel === 0 && position === 0 : rel > index.relOffsets[n - 1]! && position > index.positions[n - 1]!;
      if (!ordered || position >= dataLength) throw corrupt("segment index entries out of order or out of range");
      index.relOffsets.push(rel);
      index.positions.push(position);
    }
    return index;
  }
}

export interface SegmentFooter {
  readonly baseOffset: number;
  readonly endOffset: number;
  /** Bytes of batches; the index starts here. */
  readonly dataLength: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly index: SparseIndex;
  /** Total object size: batches + index + trailer. */
  readonly objectSize: number;
}

/** Index + trailer to append after the batches of a segment. */
export function encodeFooter(f: {
  baseOffset: number;
  endOffset: number;
  dataLength: number;
  firstTimestamp: number;
  maxTimestamp: number;
  index: SparseIndex;
}): Uint8Array {
  invariant(f.endOffset > f.baseOffset, "a sealed segment holds at least one record");
  invariant(f.index.baseOffset === f.baseOffset && f.index.size > 0, "index matches segment");
  const index = f.index.encode();
  const out = new Uint8Array(index.length + SEGMENT_TRAILER_SIZE);
  out.set(index, 0);
  const trailer = out.subarray(index.length);
  const view = new DataView(trailer.buffer, trailer.byteOffset, SEGMENT_TRAILER_SIZE);
  view.setUint32(0, SEGMENT_MAGIC, true);
  view.setUint16(4, SEGMENT_VERSION, true);
  writeU64(view, 8, f.baseOffset);
  writeU64(view, 16, f.endOffset);
  writeU64(view, 24, f.dataLength);
  view.setUint32(32, f.index.size, true);
  writeU64(view, 40, f.firstTimestamp);
  writeU64(view, 48, f.maxTimestamp);
  view.setUint32(60, crc32c(trailer.subarray(0, 60), crc32c(index)), true);
  return out;
}

/** Parses a trailer (the last 64 bytes of a segment of `objectSize` bytes); the index comes separately. */
export function decodeTrailer(trailer: Uint8Array, objectSize: number): {
  baseOffset: number;
  endOffset: number;
  dataLength: number;
  indexCount: number;
  firstTimestamp: number;
  maxTimestamp: number;
  crc: number;
} {
  if (trailer.length !== SEGMENT_TRAILER_SIZE) throw corrupt("segment trailer has the wrong size");
  const view = new DataView(trailer.buffer, trailer.byteOffset, SEGMENT_TRAILER_SIZE);
  if (view.getUint32(0, true) !== SEGMENT_MAGIC) throw corrupt("bad segment trailer magic");
  if (view.getUint16(4, true) !== SEGMENT_VERSION) throw corrupt(`unknown segment version ${view.getUint16(4, true)}`);
  const t = {
    baseOffset: readU64(view, 8),
    endOffset: readU64(view, 16),
    dataLength: readU64(view, 24),
    indexCount: view.getUint32(32, true),
    firstTimestamp: readU64(view, 40),
    maxTimestamp: readU64(view, 48),
    crc: view.getUint32(60, true),
  };
  if (t.dataLength + t.indexCount * INDEX_ENTRY_SIZE + SEGMENT_TRAILER_SIZE !== objectSize || t.endOffset <= t.baseOffset) {
    throw corrupt("segment trailer does not match the object size");
  }
  return t;
}

/** Parses index + trailer (the last `bytes.length` bytes of an object of `objectSize` bytes). */
export function decodeFooter(footer: Uint8Array, objectSize: number): SegmentFooter {
  if (footer.length < SEGMENT_TRAILER_SIZE) throw corrupt("segment shorter than its trailer");
  const trailer = footer.subarray(footer.length - SEGMENT_TRAILER_SIZE);
  const t = decodeTrailer(trailer, objectSize);
  const indexLength = t.indexCount * INDEX_ENTRY_SIZE;
  if (footer.length < indexLength + SEGMENT_TRAILER_SIZE) throw corrupt("segment footer shorter than its index");
  const indexBytes = footer.subarray(footer.length - SEGMENT_TRAILER_SIZE - indexLength, footer.length - SEGMENT_TRAILER_SIZE);
  if (crc32c(trailer.subarray(0, 60), crc32c(indexBytes)) !== t.crc) throw corrupt("segment footer CRC32C mismatch");
  return {
    baseOffset: t.baseOffset,
    endOffset: t.endOffset,
    dataLength: t.dataLength,
    firstTimestamp: t.firstTimestamp,
    maxTimestamp: t.maxTimestamp,
    index: SparseIndex.decode(indexBytes, t.baseOffset, t.dataLength),
    objectSize,
  };
}

/** Bytes of index + trailer for a footer with `indexCount` entries. */
export function footerSize(indexCount: number): number {
  return indexCount * INDEX_ENTRY_SIZE + SEGMENT_TRAILER_SIZE;
}

/**
 * Segment object key: streams/<stream>/<partition>/<base offset, 20 digits>.seg, and in cluster
 * mode <base offset>.e<lease epoch>.seg, so that a fenced leader's late upload can never
 * overwrite the object a later leader committed for the same offsets.
 */
export function segmentObjectKey(stream: string, partition: number, baseOffset: number, epoch?: number): string {
  return `streams/${stream}/${partition}/${formatBaseOffset(baseOffset)}${epoch === undefined ? "" : `.e${epoch}`}.seg`;
}

export function formatBaseOffset(offset: number): string {
  invariant(Number.isSafeInteger(offset) && offset >= 0, "offset is a safe non-negative integer");
  return String(offset).padStart(20, "0");
}

/** Parses "<20 digits><suffix>" file names; undefined for anything else. */
export function parseBaseOffset(name: string, suffix: string): number | undefined {
  if (name.length !== 20 + suffix.length || !name.endsWith(suffix)) return undefined;
  const digits = name.slice(0, 20);
  if (!/^[0-9]{20}$/.test(digits)) return undefined;
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

function corrupt(message: string): StrataError {
  return new StrataError("CORRUPT_DATA", message);
}

function writeU64(view: DataView, at: number, value: number): void {
  invariant(Number.isSafeInteger(value) && value >= 0, "u64 field is a safe non-negative integer");
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

function readU64(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  if (hi > 0x1fffff) throw corrupt("segment u64 field beyond 2^53");
  return hi * 0x1_0000_0000 + view.getUint32(at, true);
}
